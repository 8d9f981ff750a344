//! The change feed's bounds and the cleanup of deleted tasks: the feed is pruned (by `compact`
//! and while writing) to the configured number of entries, older cursors are refused as
//! expired, cursors are never reused, and a deleted task leaves no rows behind.

use std::time::Duration;

use serde_json::json;
use tasks_core::{
    ClaimRequest, EnqueueOptions, NewStep, NewTask, RetentionPolicy, StoreErrorKind, TaskStatus,
    TaskStore, Timestamp,
};
use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};

const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_000);
const LEASE: Duration = Duration::from_secs(3600);

#[test]
fn change_feed_stays_bounded_and_refuses_expired_cursors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = SqliteOptions::new(dir.path().join("tasks.db")).change_log_limit(10);
    let store = SqliteTaskStore::open(options).expect("open");
    let origin = store.change_cursor().expect("cursor");
    let mut last = None;
    for n in 0..30 {
        last = Some(store.enqueue(NewTask::new("work", json!(n)), NOW).expect("enqueue").task);
    }
    store.compact(&RetentionPolicy::default(), NOW).expect("compact prunes the feed");
    let page = store.read_changes(None, 100).expect("read");
    assert_eq!(page.changes.len(), 10, "only the latest entries are kept");
    assert_eq!(page.changes.last().map(|change| &change.task_id), last.as_ref().map(|t| &t.id));
    let err = store.read_changes(Some(&origin), 100).expect_err("pruned away");
    assert_eq!(err.kind(), StoreErrorKind::CursorExpired);
    for garbage in ["", "not-a-number", "-1", "999999"] {
        let cursor = tasks_core::ChangeCursor::new(garbage);
        let err = store.read_changes(Some(&cursor), 10).expect_err("not a cursor of this feed");
        assert_eq!(err.kind(), StoreErrorKind::CursorExpired, "{garbage:?}");
    }
    // The end cursor reads nothing until something changes.
    let end = store.change_cursor().expect("cursor");
    assert!(store.read_changes(Some(&end), 10).expect("read").changes.is_empty());

    // Without compact, the writes themselves keep the feed bounded.
    for n in 0..4_200 {
        store.enqueue(NewTask::new("work", json!(n)), NOW).expect("enqueue");
    }
    let page = store.read_changes(None, 10_000).expect("read");
    assert!(page.changes.len() < 4_200, "pruned while writing: {} kept", page.changes.len());
    assert_eq!(
        store.read_changes(Some(&end), 10).expect_err("pruned").kind(),
        StoreErrorKind::CursorExpired
    );
}

#[test]
fn compact_deletes_tasks_with_their_steps_and_channels() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    let store = SqliteTaskStore::open(SqliteOptions::new(&path)).expect("open");
    let options = EnqueueOptions::new().channel("scope:a").channel("scope:b");
    let task =
        store.enqueue(NewTask::new("work", json!(1)).with_options(options), NOW).expect("enqueue");
    let claimed = store.claim(&ClaimRequest::new("r", 1, LEASE), NOW).expect("claim");
    let lease = claimed[0].lease().expect("a lease");
    store.append_steps(&lease, &[NewStep::info("a"), NewStep::info("b")], NOW).expect("steps");
    let done = store.complete(&lease, json!(null), NOW).expect("complete");
    assert_eq!(done.status, TaskStatus::Succeeded);
    let policy =
        RetentionPolicy { success_ttl: Some(Duration::ZERO), ..RetentionPolicy::default() };
    let report = store.compact(&policy, NOW).expect("compact");
    assert_eq!(report.deleted_tasks, 1);
    assert!(store.get(&task.task.id).expect("get").is_none());
    let conn = rusqlite::Connection::open(&path).expect("plain open");
    for table in ["tasks_steps", "tasks_channels", "tasks"] {
        let count: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0))
            .expect("count");
        assert_eq!(count, 0, "{table} still holds rows of the deleted task");
    }
}

#[test]
fn cursors_are_never_reused_after_pruning() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = SqliteOptions::new(dir.path().join("tasks.db")).change_log_limit(1);
    let store = SqliteTaskStore::open(options).expect("open");
    let mut last = 0u64;
    for n in 0..5 {
        store.enqueue(NewTask::new("work", json!(n)), NOW).expect("enqueue");
        store.compact(&RetentionPolicy::default(), NOW).expect("compact keeps only the newest");
        let end: u64 = store.change_cursor().expect("cursor").as_str().parse().expect("numeric");
        assert!(end > last, "the feed's end only moves forward");
        let page = store.read_changes(None, 10).expect("read");
        assert_eq!(page.changes.len(), 1, "the newest entry is always kept");
        assert_eq!(page.changes[0].cursor.as_str().parse::<u64>().expect("numeric"), end);
        last = end;
    }
    // Reopening reads the same end of the feed.
    drop(store);
    let store =
        SqliteTaskStore::open(SqliteOptions::new(dir.path().join("tasks.db"))).expect("open");
    assert_eq!(store.change_cursor().expect("cursor").as_str(), last.to_string());
}
