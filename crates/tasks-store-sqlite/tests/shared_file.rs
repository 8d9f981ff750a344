//! Two stores on one file, each with its own writer: a store remembers the records of the
//! tasks it claimed (so its worker writes need not read them back), and must read a task again
//! whenever the other store has written the file since. Each test changes a claimed task
//! through the second store, then writes to it through the first, and checks the first store
//! saw the change.

use std::time::Duration;

use serde_json::json;
use tasks_core::{
    ClaimRequest, Finish, Lease, NewTask, StoreErrorKind, TaskRecord, TaskStatus, TaskStore,
    Timestamp,
};
use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};

const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_000);
const LEASE: Duration = Duration::from_secs(60);

struct Pair {
    first: SqliteTaskStore,
    second: SqliteTaskStore,
    _dir: tempfile::TempDir,
}

fn pair() -> Pair {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    let first = SqliteTaskStore::open(SqliteOptions::new(&path)).expect("open the first");
    let second = SqliteTaskStore::open(SqliteOptions::new(&path)).expect("open the second");
    Pair { first, second, _dir: dir }
}

/// Enqueues a task and claims and starts it through `store`.
fn running(store: &SqliteTaskStore, runner: &str, now: Timestamp) -> (TaskRecord, Lease) {
    store.enqueue(NewTask::new("work", json!({"n": 1})), now).expect("enqueue");
    let mut claimed =
        store.claim_and_start(&ClaimRequest::new(runner, 1, LEASE), now).expect("claim_and_start");
    assert_eq!(claimed.len(), 1);
    let item = claimed.remove(0);
    let started = item.started.expect("started");
    let lease = started.lease().expect("a lease");
    (started, lease)
}

#[test]
fn a_cancel_through_the_other_store_is_seen_by_the_final_write() {
    let Pair { first, second, _dir } = pair();
    let (started, lease) = running(&first, "first", NOW);
    let cancelled = second.cancel(&lease.task_id, Some("operator"), NOW).expect("cancel");
    assert!(cancelled.cancel_requested_at.is_some());
    let done = first.complete(&lease, json!({"ok": true}), NOW).expect("complete");
    assert_eq!(done.revision, cancelled.revision + 1, "built on the cancelled record");
    assert!(done.cancel_requested_at.is_some(), "the cancel request is kept");
    assert!(done.revision > started.revision + 1);
}

#[test]
fn a_cancel_through_the_other_store_is_seen_by_a_finish_batch() {
    let Pair { first, second, _dir } = pair();
    let (_, lease) = running(&first, "first", NOW);
    first.heartbeat(&lease, LEASE, NOW).expect("a heartbeat, remembered");
    let cancelled = second.cancel(&lease.task_id, None, NOW).expect("cancel");
    let finish = Finish::Complete { lease: lease.clone(), output: json!({"ok": true}) };
    let results = first.finish_batch(&[finish], NOW).expect("finish_batch");
    let done = results[0].as_ref().expect("completed");
    assert_eq!(done.revision, cancelled.revision + 1);
    assert_eq!(done.cancel_requested_at, cancelled.cancel_requested_at);
}

#[test]
fn a_task_taken_over_by_the_other_store_refuses_the_first_lease() {
    let Pair { first, second, _dir } = pair();
    let (_, lease) = running(&first, "first", NOW);
    // The lease runs out; the second store recovers the task and claims it again.
    let later = NOW.saturating_add(LEASE * 2);
    let recovered = second.recover_expired(10, later).expect("recover");
    assert_eq!(recovered.len(), 1);
    let again = second.claim(&ClaimRequest::new("second", 1, LEASE), later).expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempt, 2);
    // The first store's remembered record still says its lease is live until `later`.
    let error = first
        .complete(&lease, json!({"late": true}), NOW.saturating_add(Duration::from_secs(1)))
        .expect_err("the first lease is lost");
    assert!(
        matches!(error.kind(), StoreErrorKind::LeaseLost | StoreErrorKind::Refused),
        "got {error:?}"
    );
    let stored = second.get(&lease.task_id).expect("get").expect("the task");
    assert_eq!(stored.status, TaskStatus::Claimed, "the second claim stands");
    assert_eq!(stored.lease_owner.as_deref(), Some("second"));
}

#[test]
fn each_store_keeps_writing_its_own_tasks_after_the_other_writes() {
    let Pair { first, second, _dir } = pair();
    let (_, first_lease) = running(&first, "first", NOW);
    let (_, second_lease) = running(&second, "second", NOW);
    for round in 0..5u64 {
        let now = NOW.saturating_add(Duration::from_millis(round));
        let a = first.heartbeat(&first_lease, LEASE, now).expect("first heartbeat");
        let b = second.heartbeat(&second_lease, LEASE, now).expect("second heartbeat");
        assert_eq!(first.get(&a.id).expect("get").expect("task").revision, a.revision);
        assert_eq!(second.get(&b.id).expect("get").expect("task").revision, b.revision);
    }
}
