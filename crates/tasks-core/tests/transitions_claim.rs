//! The first two transitions of an attempt, `claim` (queued → claimed) and `start`
//! (claimed → running): what they set, what they clear, and every refusal.

mod common;

use std::time::Duration;

use common::*;
use tasks_core::transition;
use tasks_core::{
    EnqueueOptions, LeaseToken, LifecycleState, TaskError, TaskStatus, TransitionRefusal,
};

#[test]
fn claim_takes_a_due_queued_task_under_a_fresh_lease() {
    let record = queued();
    let token = LeaseToken::generate();
    let now = at_secs(1);
    let claimed = transition::claim(&record, RUNNER, token.clone(), LEASE, now).expect("claims");

    assert_touched(&record, &claimed, now);
    assert_eq!(claimed.status, TaskStatus::Claimed);
    assert_eq!(claimed.attempt, 1);
    assert_eq!(claimed.claimed_at, Some(now));
    assert_eq!(claimed.started_at, None);
    assert_eq!(claimed.finished_at, None);
    assert_eq!(claimed.lease_owner.as_deref(), Some(RUNNER));
    assert_eq!(claimed.lease_token.as_ref(), Some(&token));
    assert_eq!(claimed.lease_expires_at, Some(now.saturating_add(LEASE)));
    assert_eq!(claimed.last_heartbeat_at, Some(now), "a claim is a sign of life");
    assert_eq!(LifecycleState::of(&claimed), LifecycleState::Claimed);
    let lease = claimed.lease().expect("a claimed task has a lease");
    assert_eq!((lease.task_id, lease.token), (record.id.clone(), token));
}

#[test]
fn claim_keeps_what_it_does_not_own() {
    let record = queued_with(EnqueueOptions::new().priority(4).channel("scope:a"));
    let (claimed, _) = claim_at(&record, at_secs(1));
    assert_eq!(claimed.input, record.input);
    assert_eq!(claimed.channels, record.channels);
    assert_eq!(claimed.priority, 4);
    assert_eq!(claimed.scheduled_at, record.scheduled_at);
    assert_eq!(claimed.created_at, record.created_at);
    assert_eq!(claimed.last_step_seq, record.last_step_seq);
}

#[test]
fn claim_accepts_a_task_at_its_scheduled_instant() {
    let record = queued_with(EnqueueOptions::new().delay(Duration::from_secs(10)));
    let (claimed, _) = claim_at(&record, at_secs(10));
    assert_eq!(claimed.status, TaskStatus::Claimed);
}

#[test]
fn claim_refuses_a_task_not_yet_due() {
    let record = queued_with(EnqueueOptions::new().delay(Duration::from_secs(10)));
    let scheduled_at = at_secs(10);
    assert_eq!(record.scheduled_at, scheduled_at);
    assert_refused(&record, TransitionRefusal::NotDue { scheduled_at }, |r| {
        transition::claim(r, RUNNER, LeaseToken::generate(), LEASE, at(9_999))
    });
}

#[test]
fn claim_refuses_every_status_but_queued() {
    for status in TaskStatus::ALL.into_iter().filter(|s| *s != TaskStatus::Queued) {
        let (record, _) = record_in(status);
        assert_eq!(record.status, status);
        assert_refused(
            &record,
            TransitionRefusal::WrongStatus { operation: "claim", status },
            |r| transition::claim(r, "runner-b", LeaseToken::generate(), LEASE, at_secs(100)),
        );
    }
}

#[test]
fn claim_of_a_retry_raises_the_attempt_and_clears_the_retry_time_but_keeps_the_error() {
    let record = retrying();
    assert_eq!(LifecycleState::of(&record), LifecycleState::Retrying);
    let now = at_secs(65);
    let (claimed, _) = claim_at(&record, now);
    assert_touched(&record, &claimed, now);
    assert_eq!(claimed.attempt, 2);
    assert_eq!(claimed.retry_scheduled_at, None);
    assert_eq!(claimed.error, Some(TaskError::new("boom")), "the last error stays visible");
    assert_eq!(LifecycleState::of(&claimed), LifecycleState::Claimed);
}

#[test]
fn claim_clears_a_leftover_stale_mark() {
    // A queued record never carries a stale mark through the transitions; a store row written
    // by older code might, and a claim must not carry it into the new attempt.
    let mut record = queued();
    record.stale_at = Some(at_secs(1));
    record.stale_reason = Some("silent".into());
    let (claimed, _) = claim_at(&record, at_secs(2));
    assert_eq!((claimed.stale_at, claimed.stale_reason.as_deref()), (None, None));
}

#[test]
fn a_new_claim_fences_off_the_token_of_the_previous_one() {
    let (record, old_token) = running();
    let released = transition::release(&record, &old_token, at_secs(3)).expect("releases");
    let (reclaimed, new_token) = claim_at(&released, at_secs(4));
    assert_ne!(old_token, new_token);
    assert_eq!(reclaimed.lease_token.as_ref(), Some(&new_token));
    assert_refused(&reclaimed, TransitionRefusal::LeaseLost, |r| {
        transition::heartbeat(r, &old_token, LEASE, at_secs(5))
    });
    transition::heartbeat(&reclaimed, &new_token, LEASE, at_secs(5)).expect("the new token holds");
}

#[test]
fn claim_saturates_an_endless_lease() {
    let token = LeaseToken::generate();
    let claimed =
        transition::claim(&queued(), RUNNER, token, Duration::MAX, at_secs(1)).expect("claims");
    assert_eq!(claimed.lease_expires_at, Some(tasks_core::Timestamp::from_millis(i64::MAX)));
}

#[test]
fn start_runs_a_claimed_task() {
    let (record, token) = claimed();
    let now = at_secs(2);
    let started = transition::start(&record, &token, now).expect("starts");
    assert_touched(&record, &started, now);
    assert_eq!(started.status, TaskStatus::Running);
    assert_eq!(started.started_at, Some(now));
    assert_eq!(started.last_heartbeat_at, Some(now));
    assert_eq!(started.attempt, record.attempt);
    assert_eq!(started.lease_expires_at, record.lease_expires_at, "start does not renew");
    assert_eq!(started.lease_token, record.lease_token);
    assert_eq!(LifecycleState::of(&started), LifecycleState::Running);
}

#[test]
fn start_clears_a_stale_mark() {
    let (record, token) = claimed();
    let stale = transition::mark_stale(&record, Duration::from_secs(5), "silent", at_secs(10))
        .expect("silent for 9 s");
    assert_eq!(LifecycleState::of(&stale), LifecycleState::Stale);
    let started = transition::start(&stale, &token, at_secs(11)).expect("starts");
    assert_eq!((started.stale_at, started.stale_reason.as_deref()), (None, None));
    assert_eq!(LifecycleState::of(&started), LifecycleState::Running);
}

#[test]
fn start_refuses_a_running_task() {
    let (record, token) = running();
    let expected =
        TransitionRefusal::WrongStatus { operation: "start", status: TaskStatus::Running };
    assert_refused(&record, expected, |r| transition::start(r, &token, at_secs(3)));
}

#[test]
fn start_refuses_a_wrong_token() {
    let (record, _) = claimed();
    assert_refused(&record, TransitionRefusal::LeaseLost, |r| {
        transition::start(r, &LeaseToken::generate(), at_secs(2))
    });
}

#[test]
fn start_refuses_an_expired_lease() {
    let (record, token) = claimed();
    let expires = record.lease_expires_at.expect("claimed tasks have a lease");
    // The lease is live strictly before its expiry instant, not at it.
    assert_refused(&record, TransitionRefusal::LeaseLost, |r| {
        transition::start(r, &token, expires)
    });
    assert_refused(&record, TransitionRefusal::LeaseLost, |r| {
        transition::start(r, &token, at_secs(60))
    });
    transition::start(&record, &token, at(expires.as_millis() - T0.as_millis() - 1))
        .expect("one millisecond before expiry the lease holds");
}

#[test]
fn start_refuses_a_finished_or_queued_task() {
    let (record, token) = running();
    let done =
        transition::complete(&record, &token, serde_json::json!(1), at_secs(3)).expect("completes");
    assert_refused(&done, TransitionRefusal::LeaseLost, |r| {
        transition::start(r, &token, at_secs(4))
    });
    let released = transition::release(&record, &token, at_secs(3)).expect("releases");
    assert_refused(&released, TransitionRefusal::LeaseLost, |r| {
        transition::start(r, &token, at_secs(4))
    });
}
