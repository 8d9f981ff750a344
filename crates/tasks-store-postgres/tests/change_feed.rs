//! The change feed across transactions that commit out of order: a transaction that started
//! writing first but commits last must still be read, exactly once, by a reader that already
//! read past the rows of the transaction that committed first.

mod support;

use std::collections::HashSet;

use postgres::{Client, NoTls};
use serde_json::json;
use tasks_core::{
    ChangeCursor, NewTask, RetentionPolicy, StoreErrorKind, TaskId, TaskStore, Timestamp,
};
use tasks_store_postgres::PostgresTaskStore;

const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

fn client(store: &PostgresTaskStore) -> Client {
    store.options().config.connect(NoTls).expect("a second connection")
}

fn read_all(
    store: &PostgresTaskStore,
    mut cursor: Option<ChangeCursor>,
) -> (Vec<(TaskId, u64)>, Option<ChangeCursor>) {
    let mut seen = Vec::new();
    loop {
        let page = store.read_changes(cursor.as_ref(), 2).expect("read_changes");
        cursor = Some(page.next.clone());
        if page.changes.is_empty() {
            return (seen, cursor);
        }
        seen.extend(page.changes.into_iter().map(|change| (change.task_id, change.revision)));
    }
}

#[test]
fn a_transaction_committing_after_a_later_one_is_not_skipped() {
    let Some(fixture) = support::store() else { return };
    let store = &fixture.store;
    let start = store.change_cursor().expect("cursor");

    // T1 starts writing first (so it gets the lower transaction id) and stays open.
    let mut early = client(store);
    let mut t1 = early.transaction().expect("begin T1");
    let early_task = NewTask::new("work", json!({"who": "T1"}));
    let early_id =
        store.enqueue_in_transaction(&mut t1, early_task, T0).expect("enqueue in T1").task.id;

    // T2 starts later and commits first (the store's own enqueue).
    let late_id =
        store.enqueue(NewTask::new("work", json!({"who": "T2"})), T0).expect("enqueue T2").task.id;
    let (first, cursor) = read_all(store, Some(start.clone()));
    assert_eq!(first, vec![(late_id.clone(), 1)], "only the committed change is visible");

    // T1 commits now, after the reader has read past T2's row.
    t1.commit().expect("commit T1");
    let (second, cursor) = read_all(store, cursor);
    assert_eq!(second, vec![(early_id.clone(), 1)], "the late commit is delivered, not skipped");
    let (third, _) = read_all(store, cursor);
    assert!(third.is_empty(), "and exactly once");

    // From the start, both, each once.
    let (all, _) = read_all(store, Some(start));
    let ids: HashSet<_> = all.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!((all.len(), ids.len()), (2, 2));
}

#[test]
fn a_rolled_back_transaction_leaves_no_change() {
    let Some(fixture) = support::store() else { return };
    let store = &fixture.store;
    let start = store.change_cursor().expect("cursor");
    let mut other = client(store);
    let mut tx = other.transaction().expect("begin");
    store.enqueue_in_transaction(&mut tx, NewTask::new("work", json!(1)), T0).expect("enqueue");
    let committed = store.enqueue(NewTask::new("work", json!(2)), T0).expect("enqueue").task.id;
    let (seen, cursor) = read_all(store, Some(start));
    assert_eq!(seen, vec![(committed, 1)]);
    tx.rollback().expect("rollback");
    let (after, _) = read_all(store, cursor);
    assert!(after.is_empty());
}

#[test]
fn change_cursor_with_a_transaction_open_elsewhere() {
    let Some(fixture) = support::store() else { return };
    let store = &fixture.store;
    let mut other = client(store);
    let mut open = other.transaction().expect("begin");
    let pending = store
        .enqueue_in_transaction(&mut open, NewTask::new("work", json!(1)), T0)
        .expect("enqueue")
        .task
        .id;
    store.enqueue(NewTask::new("work", json!(2)), T0).expect("enqueue before the cursor");
    let end = store.change_cursor().expect("cursor");
    let (seen, cursor) = read_all(store, Some(end));
    assert!(seen.is_empty(), "changes committed before the cursor are behind it");
    open.commit().expect("commit");
    let (seen, _) = read_all(store, cursor);
    assert_eq!(seen, vec![(pending, 1)], "a transaction running at the cursor comes after it");
}

#[test]
fn pruned_cursors_expire() {
    let Some(fixture) = support::store() else { return };
    let store = &fixture.store;
    let start = store.change_cursor().expect("cursor");
    for n in 0..3 {
        store.enqueue(NewTask::new("work", json!(n)), T0).expect("enqueue");
    }
    let (seen, _) = read_all(store, Some(start.clone()));
    assert_eq!(seen.len(), 3);
    // Retention of the feed is a day by default: compact two days later.
    let later = Timestamp::from_millis(T0.as_millis() + 2 * 24 * 3600 * 1000);
    // Pruning only cuts changes of finished transactions: other tests of this binary hold
    // transactions open on purpose, so compact until theirs are done and all three are cut.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        store.compact(&RetentionPolicy::default(), later).expect("compact");
        let kept = store.read_changes(None, 10).expect("from what is kept").changes;
        if kept.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the feed was never pruned: {kept:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let err = store.read_changes(Some(&start), 10).expect_err("pruned");
    assert_eq!(err.kind(), StoreErrorKind::CursorExpired);
    let garbage =
        store.read_changes(Some(&ChangeCursor::new("not a cursor")), 10).expect_err("garbage");
    assert_eq!(garbage.kind(), StoreErrorKind::CursorExpired);
}
