//! Behaviours of how a task ends or goes back to the queue: `complete`, `fail` (retried,
//! not retryable, attempts exhausted), `cancel` and `acknowledge_cancel`, and `release`.

use serde_json::json;
use tasks_core::transition::CANCELLED_CODE;
use tasks_core::{
    EnqueueOptions, LifecycleState, StoreErrorKind, TaskError, TaskStatus, TaskStore,
};

use super::support::{
    RUNNER, T0, assert_kind, at, at_s, claim, claim_id, fetch, lease, picture, put, request,
    running, task_id, task_with, tid,
};

/// `complete`: "Lease-fenced; the lease ends": the task succeeds with its output and
/// `finishedAt`, and no longer carries a lease token.
pub fn complete_finishes_task(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "t1"), T0);
    let done = store.complete(&lease(&busy), json!({"rows": 3}), at_s(5)).expect("complete");
    assert_eq!(done.status, TaskStatus::Succeeded);
    assert_eq!(done.output, Some(json!({"rows": 3})));
    assert_eq!(done.finished_at, Some(at_s(5)));
    assert_eq!(done.error, None);
    assert_eq!((done.lease_token.as_ref(), done.lease_expires_at), (None, None));
    assert_eq!(done.lease_owner.as_deref(), Some(RUNNER), "who ran it last is kept");
    assert_eq!((done.revision, done.updated_at), (busy.revision + 1, at_s(5)));
    assert_eq!(LifecycleState::of(&done), LifecycleState::Succeeded);
    assert_eq!(fetch(store, &busy.id), done);
    // A claimed task may complete without a start.
    let quick = put(store, task_id("work", "t2"), at_s(6));
    let quick = claim_id(store, &quick.id, at_s(6));
    let quick = store.complete(&lease(&quick), json!(null), at_s(7)).expect("complete");
    assert_eq!(quick.status, TaskStatus::Succeeded);
}

/// `fail`: "With `retry_at` and attempts left, the task is queued again for `retry_at`
/// (lifecycle `retrying`)"; it is not claimable before `retry_at`, and the next claim is
/// attempt 2.
pub fn fail_with_retry_requeues_task(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "t1"), T0);
    let error = TaskError::new("timeout").with_code("timeout").with_details(json!({"s": 30}));
    let failed =
        store.fail(&lease(&busy), error.clone(), Some(at_s(60)), at_s(1)).expect("fail succeeds");
    assert_eq!(failed.status, TaskStatus::Queued);
    assert_eq!(LifecycleState::of(&failed), LifecycleState::Retrying);
    assert_eq!((failed.scheduled_at, failed.retry_scheduled_at), (at_s(60), Some(at_s(60))));
    assert_eq!(failed.error, Some(error.clone()), "the error is kept");
    assert_eq!(failed.attempt, 1);
    assert_eq!((failed.lease_token.as_ref(), failed.finished_at), (None, None));
    assert_eq!(failed.revision, busy.revision + 1);
    assert_eq!(fetch(store, &busy.id), failed);
    assert!(claim(store, &request(5), at(59_999)).is_empty(), "not claimable before retry_at");
    let again = claim_id(store, &busy.id, at_s(60));
    assert_eq!(again.attempt, 2);
    assert_eq!(LifecycleState::of(&again), LifecycleState::Claimed);
    assert_eq!(again.retry_scheduled_at, None);
    assert_eq!(again.error, Some(error), "a retried task still shows why it was retried");
    let late = store
        .fail(&lease(&again), TaskError::new("again"), Some(at_s(1)), at_s(61))
        .expect("fail succeeds");
    assert_eq!(late.scheduled_at, at_s(61), "a retry time already past means now");
    assert_eq!(late.retry_scheduled_at, Some(at_s(61)));
}

/// `fail`: without `retry_at` (a non-retryable error) the task "finishes failed" at once,
/// even with attempts left.
pub fn fail_without_retry_fails_task(store: &dyn TaskStore) {
    let busy = running(store, task_with("work", "t1", EnqueueOptions::new().max_attempts(5)), T0);
    let error = TaskError::new("bad input").with_name("ValidationError");
    let failed = store.fail(&lease(&busy), error.clone(), None, at_s(2)).expect("fail succeeds");
    assert_eq!(failed.status, TaskStatus::Failed);
    assert_eq!(failed.finished_at, Some(at_s(2)));
    assert_eq!(failed.error, Some(error));
    assert_eq!(failed.lease_token, None);
    assert_eq!(failed.retry_scheduled_at, None);
    assert_eq!(fetch(store, &busy.id), failed);
    assert!(claim(store, &request(5), at_s(3600)).is_empty());
}

/// `fail`: "With `retry_at` and attempts left ... otherwise ... it finishes failed": the last
/// attempt fails for good even when a retry time is given.
pub fn fail_with_retries_exhausted_fails_task(store: &dyn TaskStore) {
    let options = EnqueueOptions::new().max_attempts(2);
    let first = running(store, task_with("work", "t1", options), T0);
    let retry = store.fail(&lease(&first), TaskError::new("one"), Some(at_s(10)), at_s(1));
    assert_eq!(retry.expect("fail succeeds").status, TaskStatus::Queued);
    let second = claim_id(store, &first.id, at_s(10));
    assert_eq!(second.attempt, 2);
    let last = store
        .fail(&lease(&second), TaskError::new("two"), Some(at_s(20)), at_s(11))
        .expect("fail succeeds");
    assert_eq!(last.status, TaskStatus::Failed);
    assert_eq!(last.finished_at, Some(at_s(11)));
    assert_eq!(last.retry_scheduled_at, None);
    assert_eq!(last.error.map(|e| e.message), Some("two".to_owned()));
    assert!(claim(store, &request(5), at_s(3600)).is_empty());
}

/// `cancel`: "A queued task is cancelled at once", also a task waiting for its retry.
pub fn cancel_queued_task_at_once(store: &dyn TaskStore) {
    let queued = put(store, task_id("work", "t1"), T0);
    let cancelled = store.cancel(&queued.id, Some("not needed"), at_s(1)).expect("cancel");
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    assert_eq!(cancelled.finished_at, Some(at_s(1)));
    assert_eq!(cancelled.cancel_requested_at, Some(at_s(1)));
    let error = cancelled.error.clone().expect("the reason is recorded");
    assert_eq!(error.code.as_deref(), Some(CANCELLED_CODE));
    assert_eq!(error.message, "not needed");
    assert_eq!(cancelled.revision, queued.revision + 1);
    assert_eq!(fetch(store, &queued.id), cancelled);
    assert!(claim(store, &request(5), at_s(2)).is_empty());

    let busy = running(store, task_id("work", "t2"), at_s(3));
    store.fail(&lease(&busy), TaskError::new("x"), Some(at_s(100)), at_s(4)).expect("fail");
    let retrying = store.cancel(&busy.id, None, at_s(5)).expect("cancel succeeds");
    assert_eq!(retrying.status, TaskStatus::Cancelled);
    assert_eq!(retrying.retry_scheduled_at, None);
    assert!(claim(store, &request(5), at_s(100)).is_empty(), "a cancelled retry never runs");
}

/// `cancel`: "a claimed or running one gets `cancelRequestedAt` (a second request changes
/// nothing)"; `acknowledge_cancel`: the worker then finishes it cancelled.
pub fn cancel_running_task_requests_then_acknowledges(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "t1"), T0);
    let asked = store.cancel(&busy.id, Some("user"), at_s(1)).expect("cancel succeeds");
    assert_eq!(asked.status, TaskStatus::Running);
    assert_eq!(asked.cancel_requested_at, Some(at_s(1)));
    assert_eq!((asked.revision, asked.updated_at), (busy.revision + 1, at_s(1)));
    assert_eq!(asked.lease_token, busy.lease_token);
    assert_eq!(fetch(store, &busy.id), asked);
    let before = picture(store);
    let again = store.cancel(&busy.id, Some("again"), at_s(2)).expect("a second request is fine");
    assert_eq!(again, asked, "a second request returns the record unchanged");
    assert_eq!(picture(store), before, "a second request changes nothing");
    let done = store.acknowledge_cancel(&lease(&busy), Some("stopped"), at_s(3)).expect("ack");
    assert_eq!(done.status, TaskStatus::Cancelled);
    assert_eq!(done.finished_at, Some(at_s(3)));
    assert_eq!(done.cancel_requested_at, Some(at_s(1)), "the request time is kept");
    assert_eq!(done.error.and_then(|e| e.code).as_deref(), Some(CANCELLED_CODE));
    assert_eq!(done.lease_token, None);

    // A claimed task, and a worker that fails after the request: it ends cancelled, not retried.
    let other = put(store, task_id("work", "t2"), at_s(4));
    let claimed = claim_id(store, &other.id, at_s(4));
    store.cancel(&claimed.id, None, at_s(5)).expect("cancel succeeds");
    let failed = store
        .fail(&lease(&claimed), TaskError::new("interrupted"), Some(at_s(6)), at_s(6))
        .expect("fail succeeds");
    assert_eq!(failed.status, TaskStatus::Cancelled, "a cancel request wins over a retry");
    // A worker may also stop on its own decision, without a request.
    let third = running(store, task_id("work", "t3"), at_s(7));
    let stopped = store.acknowledge_cancel(&lease(&third), None, at_s(8)).expect("ack");
    assert_eq!(
        (stopped.status, stopped.cancel_requested_at),
        (TaskStatus::Cancelled, Some(at_s(8)))
    );
}

/// `cancel`: "A finished task gives `StoreError::Refused`; an unknown id
/// `StoreError::NotFound`", and neither changes anything.
pub fn cancel_finished_or_unknown_task_is_refused(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "done"), T0);
    store.complete(&lease(&busy), json!(1), at_s(1)).expect("complete succeeds");
    let cancelled = put(store, task_id("work", "cancelled"), at_s(2));
    store.cancel(&cancelled.id, None, at_s(2)).expect("cancel succeeds");
    let before = picture(store);
    assert_kind(store.cancel(&tid("done"), None, at_s(3)), StoreErrorKind::Refused);
    assert_kind(store.cancel(&tid("cancelled"), None, at_s(3)), StoreErrorKind::Refused);
    assert_kind(store.cancel(&tid("missing"), None, at_s(3)), StoreErrorKind::NotFound);
    assert_eq!(picture(store), before, "a refused cancel changed the store");
}

/// `release`: "The task is queued and due now, its attempt given back"; another runner may
/// claim it at once, as the same attempt number.
pub fn release_requeues_task_and_gives_attempt_back(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "t1"), T0);
    let released = store.release(&lease(&busy), at_s(5)).expect("release succeeds");
    assert_eq!(released.status, TaskStatus::Queued);
    assert_eq!(LifecycleState::of(&released), LifecycleState::Queued, "not a retry");
    assert_eq!(released.attempt, 0, "the attempt is given back");
    assert_eq!(released.scheduled_at, at_s(5));
    assert_eq!((released.lease_token.as_ref(), released.lease_expires_at), (None, None));
    assert_eq!((released.claimed_at, released.started_at), (None, None));
    assert_eq!(released.revision, busy.revision + 1);
    assert_eq!(fetch(store, &busy.id), released);
    let again = claim_id(store, &busy.id, at_s(5));
    assert_eq!(again.attempt, 1);
    assert_ne!(again.lease_token, busy.lease_token);
}

/// `release`: "with a cancel requested it finishes cancelled instead".
pub fn release_with_cancel_requested_cancels_task(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "t1"), T0);
    store.cancel(&busy.id, None, at_s(1)).expect("cancel succeeds");
    let released = store.release(&lease(&busy), at_s(2)).expect("release succeeds");
    assert_eq!(released.status, TaskStatus::Cancelled);
    assert_eq!(released.finished_at, Some(at_s(2)));
    assert_eq!(released.lease_token, None);
    assert!(claim(store, &request(5), at_s(3)).is_empty());
}
