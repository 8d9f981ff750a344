//! Behaviours of `revision` (the record docs: "Raised by one on every change of the record")
//! and of the calls that change nothing and so must not raise it.

use std::time::Duration;

use serde_json::json;
use tasks_core::{
    EnqueueOptions, NewStep, ProgressUpdate, RetentionPolicy, StepQuery, TaskError, TaskFilter,
    TaskListQuery, TaskRecord, TaskStore, Timestamp,
};

use super::support::{
    LEASE, T0, at_s, claim, claim_id, fetch, forged_lease, lease, picture, put, request, task_id,
    task_with,
};

/// Checks that `next` is `previous` one revision later, stamped `now`, and what the store
/// holds; returns `next` for the following step.
#[track_caller]
fn one_more(
    store: &dyn TaskStore,
    previous: &TaskRecord,
    next: TaskRecord,
    now: Timestamp,
    what: &str,
) -> TaskRecord {
    assert_eq!(next.revision, previous.revision + 1, "{what} raises the revision by exactly 1");
    assert_eq!(next.updated_at, now, "{what} sets updatedAt");
    assert_eq!(fetch(store, &next.id), next, "{what}: the store holds the returned record");
    next
}

/// The record docs: "Every change of the record, including a step appended to it, raises
/// `revision` by one", through every kind of write (a batch of steps is one change).
pub fn revision_rises_by_one_on_every_change(store: &dyn TaskStore) {
    let r = put(store, task_id("work", "a"), T0);
    assert_eq!(r.revision, 1);
    let r = one_more(store, &r, claim_id(store, &r.id, at_s(1)), at_s(1), "claim");
    let r = one_more(store, &r, store.start(&lease(&r), at_s(2)).expect("start"), at_s(2), "start");
    let beat = store.heartbeat(&lease(&r), LEASE, at_s(3)).expect("heartbeat");
    let r = one_more(store, &r, beat, at_s(3), "heartbeat");
    let progress = store.set_progress(&lease(&r), &ProgressUpdate::percent(1.0), at_s(4));
    let r = one_more(store, &r, progress.expect("progress"), at_s(4), "set_progress");
    let three = [NewStep::info("1"), NewStep::info("2"), NewStep::info("3")];
    let appended = store.append_steps(&lease(&r), &three, at_s(5)).expect("append");
    let r = one_more(store, &r, appended.task, at_s(5), "append_steps of three steps");
    let asked = store.cancel(&r.id, None, at_s(6)).expect("cancel");
    let r = one_more(store, &r, asked, at_s(6), "a cancel request");
    let done = store.acknowledge_cancel(&lease(&r), None, at_s(7)).expect("ack");
    one_more(store, &r, done, at_s(7), "acknowledge_cancel");

    let b = put(store, task_with("work", "b", EnqueueOptions::new().max_attempts(5)), at_s(10));
    let b = one_more(store, &b, claim_id(store, &b.id, at_s(10)), at_s(10), "claim");
    let failed = store.fail(&lease(&b), TaskError::new("x"), Some(at_s(11)), at_s(11));
    let b = one_more(store, &b, failed.expect("fail"), at_s(11), "fail with retry");
    let b = one_more(store, &b, claim_id(store, &b.id, at_s(12)), at_s(12), "claim");
    let b = one_more(
        store,
        &b,
        store.release(&lease(&b), at_s(13)).expect("release"),
        at_s(13),
        "release",
    );
    let b = one_more(store, &b, claim_id(store, &b.id, at_s(14)), at_s(14), "claim");
    let marked = store.mark_stale(Duration::ZERO, "quiet", 10, at_s(15)).expect("mark_stale");
    let b = one_more(store, &b, marked.into_iter().next().expect("marked"), at_s(15), "mark_stale");
    let recovered = store.recover_expired(10, at_s(60)).expect("recover");
    let b = one_more(
        store,
        &b,
        recovered.into_iter().next().expect("recovered"),
        at_s(60),
        "recover_expired",
    );
    let b = one_more(store, &b, claim_id(store, &b.id, at_s(61)), at_s(61), "claim");
    let done = store.complete(&lease(&b), json!(1), at_s(62)).expect("complete");
    one_more(store, &b, done, at_s(62), "complete");

    let c = put(store, task_id("work", "c"), at_s(70));
    let cancelled = store.cancel(&c.id, None, at_s(71)).expect("cancel");
    one_more(store, &c, cancelled, at_s(71), "cancel of a queued task");
}

/// `cancel`: "a second request changes nothing"; `enqueue`: a reused task "changes nothing";
/// refused writes change nothing; reads and scans that find nothing to do change nothing.
/// None of them raises a revision.
pub fn revision_unchanged_by_no_ops(store: &dyn TaskStore) {
    let busy = put(store, task_with("work", "busy", EnqueueOptions::new().dedupe_key("d")), T0);
    let busy = claim_id(store, &busy.id, T0);
    store.cancel(&busy.id, None, at_s(1)).expect("cancel");
    put(
        store,
        task_with(
            "work",
            "later",
            EnqueueOptions::new().dedupe_key("e").delay(Duration::from_secs(600)),
        ),
        at_s(1),
    );
    let before = picture(store);
    let now = at_s(2);
    store.cancel(&busy.id, None, now).expect("a repeated request is accepted");
    let reused =
        store.enqueue(task_with("work", "again", EnqueueOptions::new().dedupe_key("e")), now);
    assert_eq!(reused.expect("enqueue").task.revision, 1, "a reused task keeps its revision");
    let _ = store.heartbeat(&forged_lease(&busy), LEASE, now);
    let _ = store.complete(&forged_lease(&busy), json!(1), now);
    assert!(claim(store, &request(10), now).is_empty());
    assert!(store.recover_expired(10, now).expect("recover").is_empty());
    assert!(store.mark_stale(Duration::from_secs(60), "x", 10, now).expect("stale").is_empty());
    store.compact(&RetentionPolicy::default(), now).expect("compact");
    store.list(&TaskListQuery::all()).expect("list");
    store.aggregate(&TaskFilter::all()).expect("aggregate");
    store.list_steps(&busy.id, &StepQuery::default()).expect("steps");
    assert_eq!(picture(store), before, "a no-op changed the store");
}
