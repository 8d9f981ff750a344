//! Transactional enqueue: a task enqueued inside the caller's own transaction exists only if
//! the caller commits, and follows the same dedupe rules.

mod support;

use postgres::NoTls;
use serde_json::json;
use tasks_core::{
    EnqueueDisposition, EnqueueOptions, NewTask, StoreErrorKind, TaskStore, Timestamp,
};

const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

#[test]
fn the_task_exists_only_if_the_caller_commits() {
    let Some(fixture) = support::store() else { return };
    let store = &fixture.store;
    assert!(store.capabilities().transactional_enqueue);
    let mut client = store.options().config.connect(NoTls).expect("connect");

    let mut tx = client.transaction().expect("begin");
    let rolled_back =
        store.enqueue_in_transaction(&mut tx, NewTask::new("mail", json!(1)), T0).expect("enqueue");
    assert_eq!(store.get(&rolled_back.task.id).expect("get"), None, "invisible before commit");
    tx.rollback().expect("rollback");
    assert_eq!(store.get(&rolled_back.task.id).expect("get"), None, "gone with the rollback");

    let mut tx = client.transaction().expect("begin");
    tx.batch_execute("CREATE TEMP TABLE orders (id int)").expect("the caller's own work");
    let committed =
        store.enqueue_in_transaction(&mut tx, NewTask::new("mail", json!(2)), T0).expect("enqueue");
    tx.commit().expect("commit");
    let stored = store.get(&committed.task.id).expect("get").expect("committed task exists");
    assert_eq!(stored, committed.task);
}

#[test]
fn dedupe_applies_inside_the_callers_transaction() {
    let Some(fixture) = support::store() else { return };
    let store = &fixture.store;
    let existing = store
        .enqueue(
            NewTask::new("mail", json!(1)).with_options(EnqueueOptions::new().dedupe_key("k")),
            T0,
        )
        .expect("enqueue");
    let mut client = store.options().config.connect(NoTls).expect("connect");
    let mut tx = client.transaction().expect("begin");
    let tasks = vec![
        NewTask::new("mail", json!(2)).with_options(EnqueueOptions::new().dedupe_key("k")),
        NewTask::new("mail", json!(3)),
    ];
    let outcomes = store.enqueue_batch_in_transaction(&mut tx, tasks, T0).expect("enqueue");
    tx.commit().expect("commit");
    assert_eq!(outcomes[0].disposition, EnqueueDisposition::Reused);
    assert_eq!(outcomes[0].task.id, existing.task.id);
    assert_eq!(outcomes[1].disposition, EnqueueDisposition::Created);
}

#[test]
fn invalid_input_is_refused_before_touching_the_transaction() {
    let Some(fixture) = support::store() else { return };
    let store = &fixture.store;
    let mut client = store.options().config.connect(NoTls).expect("connect");
    let mut tx = client.transaction().expect("begin");
    let err = store
        .enqueue_in_transaction(&mut tx, NewTask::new("bad kind!", json!(1)), T0)
        .expect_err("invalid");
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput);
    tx.execute("SELECT 1", &[]).expect("the caller's transaction is still usable");
    tx.commit().expect("commit");
}
