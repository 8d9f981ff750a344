//! Behaviours of `retry`, an operator's "run it again now": a waiting task becomes due, a
//! failed or cancelled one is queued again, an event step records it, and the tasks that may
//! not be retried (active, succeeded, unknown, or whose dedupe key another task now holds) are
//! refused without a change.

use std::time::Duration;

use serde_json::json;
use tasks_core::{
    EnqueueOptions, LifecycleState, StepKind, StoreError, StoreErrorKind, TaskError, TaskId,
    TaskRecord, TaskStatus, TaskStore, Timestamp, TransitionRefusal,
};

use super::support::{
    End, T0, assert_kind, assert_unchanged, at_s, claim, claim_id, fetch, finished, lease, picture,
    put, request, running, steps, task_id, task_with, tid,
};

/// Retries `id` at `now`, checks what every accepted retry does (queued, due by `now`, one
/// revision more, stamped `now`, what the store holds, one new `event` step at the current
/// attempt) and returns the record.
#[track_caller]
fn retried(store: &dyn TaskStore, id: &TaskId, now: Timestamp) -> TaskRecord {
    let before = fetch(store, id);
    let steps_before = steps(store, id);
    let after = store.retry(id, now).expect("retry succeeds");
    assert_eq!(after.status, TaskStatus::Queued);
    assert!(after.scheduled_at <= now, "a retried task is due");
    assert_eq!((after.revision, after.updated_at), (before.revision + 1, now));
    assert_eq!(after.attempt, before.attempt, "the attempt count is kept");
    assert_eq!(fetch(store, id), after, "the store holds the returned record");
    let steps_after = steps(store, id);
    assert_eq!(steps_after.len(), steps_before.len() + 1, "one step records the retry");
    let step = steps_after.last().expect("one step was added");
    assert_eq!(step.kind, StepKind::Event);
    assert_eq!(
        (step.seq, step.attempt, step.created_at),
        (before.last_step_seq + 1, before.attempt, now)
    );
    assert_eq!(after.last_step_seq, step.seq);
    after
}

/// `retry`: "A queued task scheduled later becomes due now (one already due keeps its
/// place)", a task waiting for its retry too; it is claimable at once.
pub fn retry_makes_scheduled_task_due_now(store: &dyn TaskStore) {
    let later = EnqueueOptions::new().delay(Duration::from_secs(3600));
    let waiting = put(store, task_with("work", "later", later), T0);
    assert!(claim(store, &request(5), at_s(5)).is_empty(), "not due before the retry");
    let due = retried(store, &waiting.id, at_s(5));
    assert_eq!(due.scheduled_at, at_s(5));
    assert_eq!(LifecycleState::of(&due), LifecycleState::Queued);
    let claimed = claim_id(store, &waiting.id, at_s(5));
    assert_eq!(claimed.attempt, 1);

    let busy = running(store, task_id("work", "backoff"), at_s(10));
    let error = TaskError::new("flaky");
    store.fail(&lease(&busy), error.clone(), Some(at_s(600)), at_s(11)).expect("fail");
    let now = retried(store, &busy.id, at_s(12));
    assert_eq!((now.scheduled_at, now.retry_scheduled_at), (at_s(12), Some(at_s(12))));
    assert_eq!(LifecycleState::of(&now), LifecycleState::Retrying, "still a retry of attempt 1");
    assert_eq!(now.error, Some(error), "the error of the failed attempt stays until the next run");
    assert_eq!(claim_id(store, &busy.id, at_s(12)).attempt, 2);

    let early = put(store, task_id("work", "early"), at_s(13));
    let kept = retried(store, &early.id, at_s(16));
    assert_eq!(kept.scheduled_at, at_s(13), "a task already due keeps its place in the queue");
}

/// `retry`: "A failed ... task is queued again, due now: its error, output, finish time and
/// cancel request are cleared, its attempt count is kept, and `maxAttempts` is raised to
/// `attempt + 1` when its attempts are used up".
pub fn retry_requeues_failed_task(store: &dyn TaskStore) {
    let options = EnqueueOptions::new().max_attempts(3);
    let busy = running(store, task_with("work", "t1", options), T0);
    store.fail(&lease(&busy), TaskError::new("bad input"), None, at_s(1)).expect("fail");
    let again = retried(store, &busy.id, at_s(2));
    assert_eq!(again.scheduled_at, at_s(2));
    assert_eq!(LifecycleState::of(&again), LifecycleState::Queued);
    assert_eq!(
        (again.error.as_ref(), again.finished_at, again.output.as_ref()),
        (None, None, None)
    );
    assert_eq!((again.attempt, again.max_attempts), (1, 3), "attempts left: nothing to raise");
    assert_eq!((again.lease_token.as_ref(), again.lease_expires_at), (None, None));
    assert_eq!((again.claimed_at, again.started_at, again.retry_scheduled_at), (None, None, None));
    let claimed = claim_id(store, &busy.id, at_s(3));
    assert_eq!(claimed.attempt, 2);
    store.complete(&lease(&claimed), json!({"ok": true}), at_s(4)).expect("complete");

    let last = EnqueueOptions::new().max_attempts(1);
    let busy = running(store, task_with("work", "t2", last), at_s(5));
    let failed = store.fail(&lease(&busy), TaskError::new("x"), Some(at_s(6)), at_s(6));
    assert_eq!(failed.expect("fail").status, TaskStatus::Failed, "no attempt left");
    let again = retried(store, &busy.id, at_s(7));
    assert_eq!((again.attempt, again.max_attempts), (1, 2), "one more attempt allowed");
    let claimed = claim_id(store, &busy.id, at_s(7));
    assert_eq!(claimed.attempt, 2);
    let failed = store.fail(&lease(&claimed), TaskError::new("y"), Some(at_s(8)), at_s(8));
    assert_eq!(failed.expect("fail").status, TaskStatus::Failed, "the extra attempt was the last");
}

/// `retry`: "A ... cancelled task is queued again, due now", whether it was cancelled while
/// queued or while running, its cancel request cleared so it runs to an end.
pub fn retry_requeues_cancelled_task(store: &dyn TaskStore) {
    let cancelled = finished(store, task_id("work", "t1"), End::Cancelled, T0);
    assert_eq!(cancelled.attempt, 0);
    let again = retried(store, &cancelled.id, at_s(1));
    assert_eq!((again.cancel_requested_at, again.error.as_ref()), (None, None));
    assert_eq!(again.finished_at, None);
    assert_eq!((again.attempt, again.max_attempts), (0, cancelled.max_attempts));
    let claimed = claim_id(store, &cancelled.id, at_s(1));
    assert_eq!(claimed.attempt, 1);
    // Without the request cleared, this failure would end cancelled instead of retrying.
    let failed = store.fail(&lease(&claimed), TaskError::new("x"), Some(at_s(2)), at_s(2));
    assert_eq!(failed.expect("fail").status, TaskStatus::Queued, "no cancel request is left");
    let claimed = claim_id(store, &cancelled.id, at_s(2));
    store.complete(&lease(&claimed), json!(null), at_s(3)).expect("complete");

    let options = EnqueueOptions::new().max_attempts(1);
    let busy = running(store, task_with("work", "t2", options), at_s(100));
    store.cancel(&busy.id, Some("user"), at_s(101)).expect("cancel request");
    store.acknowledge_cancel(&lease(&busy), None, at_s(102)).expect("ack");
    let again = retried(store, &busy.id, at_s(103));
    assert_eq!((again.attempt, again.max_attempts), (1, 2));
    assert_eq!(again.cancel_requested_at, None);
    assert_eq!(claim_id(store, &busy.id, at_s(103)).attempt, 2);
}

/// `retry`: "A claimed, running or succeeded task gives `StoreError::Refused` naming its
/// status; an unknown id gives `StoreError::NotFound`; neither changes anything."
pub fn retry_refuses_active_succeeded_or_unknown_task(store: &dyn TaskStore) {
    let claimed = put(store, task_id("work", "claimed"), T0);
    claim_id(store, &claimed.id, T0);
    running(store, task_id("work", "running"), at_s(1));
    finished(store, task_id("work", "done"), End::Succeeded, at_s(2));
    let before = picture(store);
    for (id, status) in [
        ("claimed", TaskStatus::Claimed),
        ("running", TaskStatus::Running),
        ("done", TaskStatus::Succeeded),
    ] {
        match store.retry(&tid(id), at_s(3)) {
            Err(StoreError::Refused {
                id: refused,
                refusal: TransitionRefusal::WrongStatus { status: named, .. },
            }) => {
                assert_eq!((refused.as_str(), named), (id, status), "the refusal names the status");
            }
            other => panic!("retry of a {status:?} task: expected Refused, got {other:?}"),
        }
    }
    assert_kind(store.retry(&tid("missing"), at_s(3)), StoreErrorKind::NotFound);
    assert_unchanged(store, &before, "a refused retry");
}

/// `retry`: "A failed or cancelled task whose `dedupeKey` is now held by another open task of
/// its kind gives `StoreError::Refused` naming that task"; once that task ends, the retry is
/// accepted. A task of another kind with the same key does not hold it.
pub fn retry_refuses_while_dedupe_key_is_held(store: &dyn TaskStore) {
    let keyed = || EnqueueOptions::new().dedupe_key("nightly");
    let first = finished(store, task_with("work", "first", keyed()), End::Failed, T0);
    put(store, task_with("other", "elsewhere", keyed()), at_s(1));
    let second = put(store, task_with("work", "second", keyed()), at_s(1));
    assert_eq!(second.id, tid("second"), "the finished task does not hold the key");
    let before = picture(store);
    match store.retry(&first.id, at_s(2)) {
        Err(StoreError::Refused {
            refusal: TransitionRefusal::DedupeKeyHeld { key, holder },
            ..
        }) => assert_eq!((key.as_str(), holder), ("nightly", second.id.clone())),
        other => panic!("expected a refusal naming the holder, got {other:?}"),
    }
    assert_unchanged(store, &before, "a refused retry");

    store.cancel(&second.id, None, at_s(3)).expect("cancel");
    let again = retried(store, &first.id, at_s(4));
    let reused = store.enqueue(task_with("work", "third", keyed()), at_s(5)).expect("enqueue");
    assert_eq!(reused.task.id, again.id, "the retried task holds the key again");
}
