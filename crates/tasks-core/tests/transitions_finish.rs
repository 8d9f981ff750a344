//! How a worker ends an attempt: `complete`, `fail` (retry or not), `acknowledge_cancel` and
//! `release`; each is lease-fenced.

mod common;

use common::*;
use serde_json::json;
use tasks_core::transition::{self, CANCELLED_CODE};
use tasks_core::{LeaseToken, LifecycleState, TaskError, TaskStatus, TransitionRefusal};

/// Every finishing transition, as a closure over (record, token, now), for the fencing tests.
type Finish = fn(
    &tasks_core::TaskRecord,
    &LeaseToken,
    tasks_core::Timestamp,
) -> Result<tasks_core::TaskRecord, TransitionRefusal>;

const FINISHERS: [(&str, Finish); 4] = [
    ("complete", |r, t, now| transition::complete(r, t, json!(null), now)),
    ("fail", |r, t, now| transition::fail(r, t, TaskError::new("x"), None, now)),
    ("acknowledge_cancel", |r, t, now| transition::acknowledge_cancel(r, t, None, now)),
    ("release", |r, t, now| transition::release(r, t, now)),
];

#[test]
fn every_finisher_is_lease_fenced() {
    for (name, finish) in FINISHERS {
        let (record, token) = running();
        let expires = record.lease_expires_at.expect("running tasks have a lease");
        assert_refused(&record, TransitionRefusal::LeaseLost, |r| {
            finish(r, &LeaseToken::generate(), at_secs(3))
        });
        assert_refused(&record, TransitionRefusal::LeaseLost, |r| finish(r, &token, expires));
        let done = transition::complete(&record, &token, json!(1), at_secs(3)).expect("completes");
        assert_refused(&done, TransitionRefusal::LeaseLost, |r| finish(r, &token, at_secs(4)));
        // Each also accepts a claimed task that never started.
        let (claimed, claim_token) = claimed();
        finish(&claimed, &claim_token, at_secs(2)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn complete_ends_the_task_with_its_output() {
    let (record, token) = running();
    let now = at_secs(4);
    let done = transition::complete(&record, &token, json!({"outputPath": "/tmp/r.json"}), now)
        .expect("completes");
    assert_touched(&record, &done, now);
    assert_eq!(done.status, TaskStatus::Succeeded);
    assert_eq!(done.output, Some(json!({"outputPath": "/tmp/r.json"})));
    assert_eq!(done.finished_at, Some(now));
    assert_eq!((done.lease_token.as_ref(), done.lease_expires_at), (None, None));
    assert_eq!(done.lease_owner.as_deref(), Some(RUNNER), "who ran it last stays");
    assert_eq!(done.started_at, record.started_at);
    assert_eq!(LifecycleState::of(&done), LifecycleState::Succeeded);
    assert_eq!(done.lease(), None);
}

#[test]
fn complete_clears_an_earlier_error_and_a_stale_mark() {
    let (claimed, token) = claim_at(&retrying(), at_secs(65));
    assert!(claimed.error.is_some());
    let stale =
        transition::mark_stale(&claimed, std::time::Duration::from_secs(1), "s", at_secs(70))
            .expect("silent");
    let done = transition::complete(&stale, &token, json!(1), at_secs(71)).expect("completes");
    assert_eq!(done.error, None);
    assert_eq!((done.stale_at, done.stale_reason.as_deref()), (None, None));
}

#[test]
fn complete_wins_over_a_pending_cancel_request() {
    let (record, token) = running_cancel_requested();
    let done = transition::complete(&record, &token, json!(1), at_secs(4)).expect("completes");
    assert_eq!(done.status, TaskStatus::Succeeded);
}

#[test]
fn fail_with_attempts_left_requeues_for_the_retry_time() {
    let (record, token) = running();
    let now = at_secs(5);
    let error = TaskError::new("boom").with_code("timeout");
    let retried =
        transition::fail(&record, &token, error.clone(), Some(at_secs(65)), now).expect("fails");
    assert_touched(&record, &retried, now);
    assert_eq!(retried.status, TaskStatus::Queued);
    assert_eq!(retried.error, Some(error));
    assert_eq!(retried.scheduled_at, at_secs(65));
    assert_eq!(retried.retry_scheduled_at, Some(at_secs(65)));
    assert_eq!(retried.attempt, 1, "the failed attempt is spent");
    assert_eq!(retried.finished_at, None);
    assert_eq!(
        (retried.claimed_at, retried.started_at, retried.last_heartbeat_at),
        (None, None, None)
    );
    assert_eq!((retried.lease_token.as_ref(), retried.lease_expires_at), (None, None));
    assert_eq!(LifecycleState::of(&retried), LifecycleState::Retrying);
    assert_refused(&retried, TransitionRefusal::NotDue { scheduled_at: at_secs(65) }, |r| {
        transition::claim(r, RUNNER, LeaseToken::generate(), LEASE, at_secs(64))
    });
}

#[test]
fn fail_clamps_a_retry_time_in_the_past_to_now() {
    let (record, token) = running();
    let retried = transition::fail(&record, &token, TaskError::new("x"), Some(T0), at_secs(5))
        .expect("fails");
    assert_eq!(retried.scheduled_at, at_secs(5));
    assert_eq!(retried.retry_scheduled_at, Some(at_secs(5)));
}

#[test]
fn fail_without_a_retry_time_fails_for_good() {
    let (record, token) = running();
    let now = at_secs(5);
    let failed =
        transition::fail(&record, &token, TaskError::new("fatal"), None, now).expect("fails");
    assert_touched(&record, &failed, now);
    assert_eq!(failed.status, TaskStatus::Failed);
    assert_eq!(failed.finished_at, Some(now));
    assert_eq!(failed.retry_scheduled_at, None);
    assert_eq!(failed.error, Some(TaskError::new("fatal")));
    assert_eq!(LifecycleState::of(&failed), LifecycleState::Failed);
}

#[test]
fn fail_on_the_last_attempt_fails_for_good() {
    let mut record = queued_with(tasks_core::EnqueueOptions::new().max_attempts(2));
    // Two attempts, each failing with a retry time (attempt n runs at T0 + n s); the second
    // has none left.
    for attempt in 1..=2u32 {
        let now = at_secs(i64::from(attempt));
        let (claimed, token) = claim_at(&record, now);
        assert_eq!(claimed.attempt, attempt);
        record =
            transition::fail(&claimed, &token, TaskError::new("x"), Some(now), now).expect("fails");
    }
    assert_eq!(record.status, TaskStatus::Failed);
    assert_eq!(record.retry_scheduled_at, None);
    assert_eq!(record.finished_at, Some(at_secs(2)));
}

#[test]
fn fail_after_a_cancel_request_ends_cancelled() {
    for retry_at in [Some(at_secs(60)), None] {
        let (record, token) = running_cancel_requested();
        let now = at_secs(4);
        let ended = transition::fail(&record, &token, TaskError::new("stopped"), retry_at, now)
            .expect("fails");
        assert_touched(&record, &ended, now);
        assert_eq!(ended.status, TaskStatus::Cancelled, "retry_at {retry_at:?}");
        assert_eq!(ended.finished_at, Some(now));
        assert_eq!(ended.retry_scheduled_at, None);
        assert_eq!(ended.cancel_requested_at, Some(at_secs(3)));
        assert_eq!(ended.error, Some(TaskError::new("stopped")), "the worker's error is kept");
    }
}

#[test]
fn acknowledge_cancel_ends_the_task_cancelled() {
    let (record, token) = running_cancel_requested();
    let now = at_secs(4);
    let ended = transition::acknowledge_cancel(&record, &token, Some("stopped"), now)
        .expect("acknowledges");
    assert_touched(&record, &ended, now);
    assert_eq!(ended.status, TaskStatus::Cancelled);
    assert_eq!(ended.finished_at, Some(now));
    assert_eq!(ended.cancel_requested_at, Some(at_secs(3)), "the request time is kept");
    let error = ended.error.as_ref().expect("a cancelled task says why");
    assert_eq!(error.code.as_deref(), Some(CANCELLED_CODE));
    assert_eq!(error.name.as_deref(), Some("TaskCancelled"));
    assert_eq!(error.message, "stopped");
    assert_eq!((ended.lease_token.as_ref(), ended.lease_expires_at), (None, None));
    assert_eq!(LifecycleState::of(&ended), LifecycleState::Cancelled);
}

#[test]
fn acknowledge_cancel_without_a_request_stamps_now() {
    let (record, token) = running();
    let now = at_secs(4);
    let ended = transition::acknowledge_cancel(&record, &token, None, now).expect("acknowledges");
    assert_eq!(ended.cancel_requested_at, Some(now));
    assert_eq!(ended.error, Some(transition::cancelled_error(None)));
}

#[test]
fn acknowledge_cancel_clears_a_stale_mark() {
    let (record, token) = running();
    let stale = transition::mark_stale(&record, std::time::Duration::from_secs(1), "s", at_secs(5))
        .expect("silent");
    let ended = transition::acknowledge_cancel(&stale, &token, None, at_secs(6)).expect("acks");
    assert_eq!((ended.stale_at, ended.stale_reason.as_deref()), (None, None));
}

#[test]
fn release_gives_the_task_and_its_attempt_back_to_the_queue() {
    let (record, token) = running();
    let now = at_secs(4);
    let released = transition::release(&record, &token, now).expect("releases");
    assert_touched(&record, &released, now);
    assert_eq!(released.status, TaskStatus::Queued);
    assert_eq!(released.attempt, 0, "the attempt did not run to an end");
    assert_eq!(released.scheduled_at, now, "claimable at once");
    assert_eq!(released.retry_scheduled_at, None);
    assert_eq!(
        (released.claimed_at, released.started_at, released.last_heartbeat_at),
        (None, None, None)
    );
    assert_eq!(
        (released.lease_owner.as_deref(), released.lease_token.as_ref(), released.lease_expires_at),
        (None, None, None)
    );
    assert_eq!(released.finished_at, None);
    assert_eq!(LifecycleState::of(&released), LifecycleState::Queued);
    let (again, _) = claim_at(&released, now);
    assert_eq!(again.attempt, 1);
}

#[test]
fn release_of_a_retry_keeps_its_error_but_is_plain_queued() {
    let (claimed, token) = claim_at(&retrying(), at_secs(65));
    let released = transition::release(&claimed, &token, at_secs(66)).expect("releases");
    assert_eq!(released.attempt, 1);
    assert_eq!(released.error, Some(TaskError::new("boom")));
    assert_eq!(LifecycleState::of(&released), LifecycleState::Queued);
}

#[test]
fn release_after_a_cancel_request_ends_cancelled() {
    let (record, token) = running_cancel_requested();
    let now = at_secs(4);
    let ended = transition::release(&record, &token, now).expect("releases");
    assert_touched(&record, &ended, now);
    assert_eq!(ended.status, TaskStatus::Cancelled);
    assert_eq!(ended.finished_at, Some(now));
    assert_eq!(ended.attempt, 1, "a finished task keeps its attempt count");
    assert_eq!(ended.error.as_ref().and_then(|e| e.code.as_deref()), Some(CANCELLED_CODE));
    assert_eq!((ended.lease_token.as_ref(), ended.lease_expires_at), (None, None));
}
