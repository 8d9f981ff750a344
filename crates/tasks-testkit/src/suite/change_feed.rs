//! Behaviours of the change feed (`read_changes`, `change_cursor`; the docs of
//! `tasks_core::change`), or of its absence: a store without `Capabilities::change_feed`
//! answers `Unsupported`.

use serde_json::json;
use tasks_core::{
    Change, ChangeCursor, ChangeKind, NewStep, RetentionPolicy, StoreErrorKind, TaskStore,
};

use super::support::{T0, assert_kind, at_s, claim_id, lease, put, task_id};

/// Reads the whole feed after `after`, `page` changes at a time, checking each page's `next`.
fn read_all(store: &dyn TaskStore, after: Option<&ChangeCursor>, page: u32) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut cursor = after.cloned();
    loop {
        let read = store.read_changes(cursor.as_ref(), page).expect("read_changes succeeds");
        assert!(read.changes.len() <= page as usize, "at most `limit` changes per read");
        // An empty read may hand back a cursor that differs from the one given (a store can
        // note that transactions it was waiting for have ended); reading on from it must
        // still return every change exactly once, which the callers check.
        if let Some(last) = read.changes.last() {
            assert_eq!(read.next, last.cursor, "`next` is the cursor of the last change");
        }
        let done = read.changes.is_empty();
        changes.extend(read.changes);
        cursor = Some(read.next);
        if done {
            return changes;
        }
    }
}

fn summary(changes: &[Change]) -> Vec<(String, u64, ChangeKind)> {
    changes.iter().map(|c| (c.task_id.to_string(), c.revision, c.kind)).collect()
}

/// `read_changes`: "Stores without `Capabilities::change_feed` give
/// `StoreError::Unsupported`"; otherwise "Changes come in commit order, at most `limit`; every
/// change after the cursor is returned exactly once across successive reads with `next`":
/// one change per insert, update, step append and deletion, with the revision reached.
pub fn change_feed_returns_every_change_once_in_order(store: &dyn TaskStore) {
    if !store.capabilities().change_feed {
        assert_kind(store.read_changes(None, 10), StoreErrorKind::Unsupported);
        assert_kind(store.change_cursor(), StoreErrorKind::Unsupported);
        return;
    }
    let a = put(store, task_id("work", "a"), T0);
    put(store, task_id("work", "b"), at_s(1));
    let claimed = claim_id(store, &a.id, at_s(2));
    store.start(&lease(&claimed), at_s(3)).expect("start");
    store
        .append_steps(&lease(&claimed), &[NewStep::info("x"), NewStep::info("y")], at_s(4))
        .expect("append");
    store.cancel(&tasks_core::TaskId::new("b").expect("valid"), None, at_s(5)).expect("cancel");
    store.complete(&lease(&claimed), json!(1), at_s(6)).expect("complete");
    let deleted = RetentionPolicy {
        cancelled_ttl: Some(std::time::Duration::ZERO),
        ..RetentionPolicy::default()
    };
    store.compact(&deleted, at_s(7)).expect("compact");
    use ChangeKind::{Deleted, Updated};
    let want: Vec<(String, u64, ChangeKind)> = [
        ("a", 1, Updated),
        ("b", 1, Updated),
        ("a", 2, Updated),
        ("a", 3, Updated),
        ("a", 4, Updated),
        ("b", 2, Updated),
        ("a", 5, Updated),
        ("b", 2, Deleted),
    ]
    .into_iter()
    .map(|(id, revision, kind)| (id.to_owned(), revision, kind))
    .collect();
    let all = read_all(store, None, 1000);
    assert_eq!(summary(&all), want);
    assert_eq!(summary(&read_all(store, None, 1)), want, "page by page, nothing lost or repeated");
    assert_eq!(summary(&read_all(store, None, 3)), want);
    let from_third = read_all(store, Some(&all[2].cursor), 2);
    assert_eq!(summary(&from_third), want[3..], "reading on from a change's cursor");
    let end = read_all(store, Some(&all[7].cursor), 10);
    assert!(end.is_empty());
}

/// `change_cursor`: "The cursor at the current end of the change feed: read from here to see
/// only what happens next" (or `Unsupported` without the capability); a no-op writes no change.
pub fn change_cursor_sees_only_newer_changes(store: &dyn TaskStore) {
    if !store.capabilities().change_feed {
        assert_kind(store.change_cursor(), StoreErrorKind::Unsupported);
        assert_kind(store.read_changes(None, 10), StoreErrorKind::Unsupported);
        return;
    }
    let old = put(store, task_id("work", "old"), T0);
    let cursor = store.change_cursor().expect("change_cursor succeeds");
    assert!(read_all(store, Some(&cursor), 10).is_empty(), "nothing after the end yet");
    put(store, task_id("work", "new"), at_s(1));
    store.cancel(&old.id, None, at_s(2)).expect("cancel");
    store.cancel(&old.id, None, at_s(3)).expect_err("a finished task refuses a cancel");
    let changes = read_all(store, Some(&cursor), 10);
    use ChangeKind::Updated;
    assert_eq!(summary(&changes), [("new".to_owned(), 1, Updated), ("old".to_owned(), 2, Updated)]);
    let end = store.change_cursor().expect("change_cursor succeeds");
    let dedupe = tasks_core::EnqueueOptions::new().dedupe_key("k");
    put(store, super::support::task_with("work", "d1", dedupe.clone()), at_s(4));
    let after = store.change_cursor().expect("change_cursor succeeds");
    put(store, super::support::task_with("work", "d2", dedupe), at_s(5));
    assert!(read_all(store, Some(&after), 10).is_empty(), "a reused enqueue is not a change");
    assert_eq!(read_all(store, Some(&end), 10).len(), 1);
}
