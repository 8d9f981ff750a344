//! Behaviours of the worker writes that report while a task runs: `heartbeat`,
//! `set_progress`, `append_steps`, and the step reads of `list_steps`.

use std::time::Duration;

use serde_json::json;
use tasks_core::{
    JsonObject, NewStep, ProgressUpdate, StepKind, StepLevel, StepQuery, StoreErrorKind, TaskError,
    TaskStatus, TaskStore,
};

use super::support::{
    LEASE, T0, assert_kind, at_s, claim_id, fetch, lease, picture, put, running, seqs, steps,
    task_id, tid,
};

fn meta(key: &str, value: serde_json::Value) -> JsonObject {
    let mut object = JsonObject::new();
    object.insert(key.into(), value);
    object
}

/// `heartbeat`: "Renews a lease for `lease_for` from `now`" and "records the heartbeat"; the
/// renewed lease is what counts afterwards (writes after the first expiry succeed).
pub fn heartbeat_renews_lease(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "t1"), T0);
    let beat = store
        .heartbeat(&lease(&busy), Duration::from_secs(60), at_s(20))
        .expect("heartbeat succeeds");
    assert_eq!(beat.lease_expires_at, Some(at_s(80)));
    assert_eq!(beat.last_heartbeat_at, Some(at_s(20)));
    assert_eq!((beat.revision, beat.updated_at), (busy.revision + 1, at_s(20)));
    assert_eq!(beat.lease_token, busy.lease_token, "the token stays the same");
    assert_eq!(beat.status, TaskStatus::Running);
    assert_eq!(fetch(store, &busy.id), beat);
    assert!(store.recover_expired(10, at_s(45)).expect("recover succeeds").is_empty());
    store
        .set_progress(&lease(&busy), &ProgressUpdate::percent(10.0), at_s(45))
        .expect("a write after the first lease would have expired succeeds");
    let shorter = store
        .heartbeat(&lease(&busy), Duration::from_secs(5), at_s(50))
        .expect("heartbeat succeeds");
    assert_eq!(shorter.lease_expires_at, Some(at_s(55)), "the lease runs from now, as given");
}

/// `heartbeat`: "The returned record shows `cancelRequestedAt`, so a worker learns of a
/// cancel request on its next heartbeat."
pub fn heartbeat_shows_cancel_request(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "t1"), T0);
    let beat = store.heartbeat(&lease(&busy), LEASE, at_s(1)).expect("heartbeat succeeds");
    assert_eq!(beat.cancel_requested_at, None);
    store.cancel(&busy.id, Some("user asked"), at_s(2)).expect("cancel succeeds");
    let beat = store.heartbeat(&lease(&busy), LEASE, at_s(3)).expect("heartbeat succeeds");
    assert_eq!(beat.cancel_requested_at, Some(at_s(2)));
    assert_eq!(beat.status, TaskStatus::Running, "the worker decides when to stop");
}

/// `set_progress`: "fields left `None` keep their value"; each update is one revision and a
/// sign of life.
pub fn progress_merges_fields(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "t1"), T0);
    let update = |update: ProgressUpdate, now| {
        store.set_progress(&lease(&busy), &update, now).expect("progress succeeds")
    };
    let first = update(ProgressUpdate::percent(10.0).label("download"), at_s(1));
    assert_eq!(first.progress_percent, Some(10.0));
    assert_eq!(first.progress_label.as_deref(), Some("download"));
    assert_eq!(first.progress_meta, None);
    assert_eq!((first.revision, first.last_heartbeat_at), (busy.revision + 1, Some(at_s(1))));
    let second = update(ProgressUpdate::percent(55.5), at_s(2));
    assert_eq!(second.progress_percent, Some(55.5));
    assert_eq!(second.progress_label.as_deref(), Some("download"), "label kept");
    let third = update(ProgressUpdate::default().meta(meta("bytes", json!(1024))), at_s(3));
    assert_eq!(third.progress_percent, Some(55.5), "percent kept");
    assert_eq!(third.progress_meta, Some(meta("bytes", json!(1024))));
    let fourth = update(ProgressUpdate::default().label("upload"), at_s(4));
    assert_eq!(fourth.progress_label.as_deref(), Some("upload"));
    assert_eq!(fourth.progress_meta, Some(meta("bytes", json!(1024))), "meta kept");
    let nothing = update(ProgressUpdate::default(), at_s(5));
    assert_eq!(nothing.revision, fourth.revision + 1, "an empty update is still a sign of life");
    assert_eq!(nothing.progress_percent, Some(55.5));
    assert_eq!(fetch(store, &busy.id), nothing);
    let bounds = update(ProgressUpdate::percent(0.0), at_s(6));
    assert_eq!(bounds.progress_percent, Some(0.0));
    assert_eq!(update(ProgressUpdate::percent(100.0), at_s(7)).progress_percent, Some(100.0));
}

/// `set_progress`: "A percent outside 0 to 100 gives `StoreError::InvalidInput`" and changes
/// nothing (not even the label given with it).
pub fn progress_refuses_invalid_percent(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "t1"), T0);
    store.set_progress(&lease(&busy), &ProgressUpdate::percent(20.0), at_s(1)).expect("valid");
    let before = picture(store);
    for percent in [-0.5, 100.5, f64::NAN, f64::INFINITY] {
        let update = ProgressUpdate::percent(percent).label("bad");
        assert_kind(
            store.set_progress(&lease(&busy), &update, at_s(2)),
            StoreErrorKind::InvalidInput,
        );
    }
    let huge_label =
        ProgressUpdate::default().label("x".repeat(tasks_core::limits::MAX_TEXT_LEN + 1));
    assert_kind(
        store.set_progress(&lease(&busy), &huge_label, at_s(2)),
        StoreErrorKind::InvalidInput,
    );
    assert_eq!(picture(store), before, "refused progress changed the store");
}

/// A percent of `-0.0` is valid and kept as `0.0`, by progress and steps alike, so every store
/// reads back the same value (SQLite keeps no negative zero) and the task's JSON says `0.0`.
pub fn negative_zero_percent_is_kept_as_zero(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "t1"), T0);
    let is_zero = |percent: Option<f64>| percent.is_some_and(|p| p == 0.0 && p.is_sign_positive());
    let updated = store
        .set_progress(&lease(&busy), &ProgressUpdate::percent(-0.0), at_s(1))
        .expect("-0.0 is a valid percent");
    assert!(is_zero(updated.progress_percent), "returned {:?}", updated.progress_percent);
    let stored = fetch(store, &busy.id);
    assert!(is_zero(stored.progress_percent), "read back {:?}", stored.progress_percent);
    let text = serde_json::to_string(&stored.progress_percent).expect("serializes");
    assert_eq!(text, "0.0", "the JSON of the task says 0.0");
    let appended = store
        .append_steps(&lease(&busy), &[NewStep::info("begun").percent(-0.0)], at_s(2))
        .expect("append succeeds");
    assert!(is_zero(appended.steps[0].percent), "returned {:?}", appended.steps[0].percent);
    let listed = steps(store, &busy.id);
    assert!(is_zero(listed[0].percent), "read back {:?}", listed[0].percent);
}

/// `append_steps`: "Steps get the next `seq` numbers with no gap, and the current attempt",
/// across calls and across attempts; one call is one revision; the record's `lastStepSeq`
/// follows.
pub fn steps_are_numbered_without_gaps(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "t1"), T0);
    let batch = [
        NewStep::info("fetched").kind(StepKind::Checkpoint).level(StepLevel::Success).percent(50.0),
        NewStep::info("parsed").meta(meta("rows", json!(3))),
    ];
    let first = store.append_steps(&lease(&busy), &batch, at_s(1)).expect("append succeeds");
    assert_eq!(seqs(&first.steps), [1, 2]);
    assert_eq!((first.task.last_step_seq, first.task.revision), (2, busy.revision + 1));
    assert_eq!(first.task.last_heartbeat_at, Some(at_s(1)), "a step is a sign of life");
    assert_eq!(first.steps[0].kind, StepKind::Checkpoint);
    assert_eq!(first.steps[0].level, StepLevel::Success);
    assert_eq!(first.steps[0].percent, Some(50.0));
    assert_eq!(first.steps[1].meta, Some(meta("rows", json!(3))));
    assert!(first.steps.iter().all(|s| s.attempt == 1 && s.task_id == busy.id));
    assert!(first.steps.iter().all(|s| s.created_at == at_s(1)));
    let one = store.append_steps(&lease(&busy), &[NewStep::info("third")], at_s(2)).expect("ok");
    assert_eq!(seqs(&one.steps), [3]);
    assert_eq!(one.task.revision, first.task.revision + 1);
    let none = store.append_steps(&lease(&busy), &[], at_s(2)).expect("an empty append is fine");
    assert!(none.steps.is_empty());
    assert_eq!(none.task.last_step_seq, 3);

    let error = TaskError::new("retry me");
    store.fail(&lease(&busy), error, Some(at_s(10)), at_s(3)).expect("fail succeeds");
    let second = claim_id(store, &busy.id, at_s(10));
    let later = [NewStep::info("retrying"), NewStep::info("done")];
    let appended = store.append_steps(&lease(&second), &later, at_s(11)).expect("append succeeds");
    assert_eq!(seqs(&appended.steps), [4, 5], "seq continues across attempts");
    assert!(appended.steps.iter().all(|s| s.attempt == 2));
    let all = steps(store, &busy.id);
    assert_eq!(seqs(&all), [1, 2, 3, 4, 5]);
    assert_eq!(all[..2], first.steps[..], "stored steps equal the returned ones");
    assert_eq!(fetch(store, &busy.id).last_step_seq, 5);
}

/// `list_steps`: "Only steps with `seq > afterSeq`; the first `limit` of them, or the last
/// `limit` with `latest`; returned in `seq` order."
pub fn steps_replay_from_cursor_with_limit(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "t1"), T0);
    let batch: Vec<NewStep> = (1..=10).map(|n| NewStep::info(format!("step {n}"))).collect();
    store.append_steps(&lease(&busy), &batch, at_s(1)).expect("append succeeds");
    let read = |query: StepQuery| seqs(&store.list_steps(&busy.id, &query).expect("read succeeds"));
    assert_eq!(read(StepQuery::default()), (1..=10).collect::<Vec<_>>(), "100 when absent");
    assert_eq!(read(StepQuery::after(3, 4)), [4, 5, 6, 7]);
    assert_eq!(read(StepQuery::after(8, 100)), [9, 10]);
    assert!(read(StepQuery::after(10, 100)).is_empty());
    assert!(read(StepQuery::after(99, 100)).is_empty());
    assert_eq!(read(StepQuery::after(0, 2)), [1, 2]);
    assert_eq!(read(StepQuery::recent(3)), [8, 9, 10]);
    assert_eq!(read(StepQuery { after_seq: Some(2), limit: Some(3), latest: true }), [8, 9, 10]);
    assert_eq!(read(StepQuery { after_seq: Some(7), limit: Some(5), latest: true }), [8, 9, 10]);
    assert_eq!(read(StepQuery::recent(50)), (1..=10).collect::<Vec<_>>());
    let read_back = store.list_steps(&busy.id, &StepQuery::after(4, 1)).expect("read succeeds");
    assert_eq!(read_back[0].message, "step 5");
    store.append_steps(&lease(&busy), &[NewStep::info("eleven")], at_s(2)).expect("append");
    assert_eq!(read(StepQuery::after(10, 100)), [11], "a cursor picks up new steps");
}

/// `append_steps`: "An empty message gives `StoreError::InvalidInput` and appends none of the
/// batch" (a blank message counts as empty); nothing else changes either.
pub fn steps_refuse_empty_message_atomically(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "t1"), T0);
    store.append_steps(&lease(&busy), &[NewStep::info("kept")], at_s(1)).expect("append");
    let before = picture(store);
    for bad in ["", "   "] {
        let batch = [NewStep::info("fine"), NewStep::info(bad), NewStep::info("also fine")];
        assert_kind(
            store.append_steps(&lease(&busy), &batch, at_s(2)),
            StoreErrorKind::InvalidInput,
        );
    }
    let bad_percent = [NewStep::info("fine"), NewStep::info("pct").percent(101.0)];
    assert_kind(
        store.append_steps(&lease(&busy), &bad_percent, at_s(2)),
        StoreErrorKind::InvalidInput,
    );
    assert_eq!(picture(store), before, "a refused append changed the store");
    let next = store.append_steps(&lease(&busy), &[NewStep::info("next")], at_s(3)).expect("ok");
    assert_eq!(seqs(&next.steps), [2], "no seq was used up by the refused batches");
}

/// `list_steps`: "An unknown task gives `StoreError::NotFound`"; a known task without steps
/// gives an empty list.
pub fn list_steps_of_unknown_task_is_not_found(store: &dyn TaskStore) {
    assert_kind(store.list_steps(&tid("missing"), &StepQuery::default()), StoreErrorKind::NotFound);
    let queued = put(store, task_id("work", "t1"), T0);
    assert!(steps(store, &queued.id).is_empty());
    assert_kind(store.list_steps(&tid("missing"), &StepQuery::recent(5)), StoreErrorKind::NotFound);
}
