//! Transitions that do not come from the lease holder: `request_cancel` (users and
//! superseding tasks), `expire_lease` (recovery of a dead worker's task), `mark_stale` and
//! `is_silent` (the watchdog); and the lifecycle state over a whole task's life.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tasks_core::transition::{self, CANCELLED_CODE, LEASE_EXPIRED_CODE};
use tasks_core::{
    EnqueueOptions, LeaseToken, LifecycleState, NewStep, ProgressUpdate, StepKind, StepLevel,
    TaskError, TaskId, TaskStatus, TransitionRefusal,
};

#[test]
fn request_cancel_cancels_a_queued_task_at_once() {
    let record = queued();
    let now = at_secs(1);
    let cancelled = transition::request_cancel(&record, Some("not needed"), now).expect("cancels");
    assert_touched(&record, &cancelled, now);
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    assert_eq!(cancelled.finished_at, Some(now));
    assert_eq!(cancelled.cancel_requested_at, Some(now));
    assert_eq!(cancelled.error, Some(transition::cancelled_error(Some("not needed"))));
    assert_eq!(LifecycleState::of(&cancelled), LifecycleState::Cancelled);
}

#[test]
fn request_cancel_of_a_waiting_retry_clears_the_retry_time() {
    let record = retrying();
    let cancelled = transition::request_cancel(&record, None, at_secs(10)).expect("cancels");
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    assert_eq!(cancelled.retry_scheduled_at, None);
    assert_eq!(cancelled.error.as_ref().and_then(|e| e.code.as_deref()), Some(CANCELLED_CODE));
}

#[test]
fn request_cancel_of_an_active_task_only_records_the_request() {
    for status in [TaskStatus::Claimed, TaskStatus::Running] {
        let (record, _) = record_in(status);
        let now = at_secs(3);
        let asked = transition::request_cancel(&record, Some("user asked"), now).expect("asks");
        assert_touched(&record, &asked, now);
        assert_eq!(asked.status, status, "the runner is expected to stop it");
        assert_eq!(asked.cancel_requested_at, Some(now));
        assert_eq!(asked.finished_at, None);
        assert_eq!(asked.lease_token, record.lease_token);
        assert_eq!(asked.error, Some(transition::cancelled_error(Some("user asked"))));
    }
}

#[test]
fn request_cancel_without_a_reason_keeps_the_last_error() {
    let (claimed, _) = claim_at(&retrying(), at_secs(65));
    let asked = transition::request_cancel(&claimed, None, at_secs(66)).expect("asks");
    assert_eq!(asked.error, Some(TaskError::new("boom")));
}

#[test]
fn a_second_cancel_request_changes_nothing() {
    let (record, _) = running_cancel_requested();
    let again = transition::request_cancel(&record, Some("again"), at_secs(10)).expect("asks");
    assert_eq!(again, record, "same record, same revision, first request time kept");
    assert_eq!(again.cancel_requested_at, Some(at_secs(3)));
}

#[test]
fn request_cancel_refuses_a_finished_task() {
    for status in [TaskStatus::Succeeded, TaskStatus::Failed, TaskStatus::Cancelled] {
        let (record, _) = record_in(status);
        let expected = TransitionRefusal::WrongStatus { operation: "cancel", status };
        assert_refused(&record, expected, |r| transition::request_cancel(r, None, at_secs(9)));
    }
}

#[test]
fn superseded_reason_names_the_new_task() {
    let id = TaskId::new("task_new").expect("valid id");
    assert!(transition::superseded_reason(&id).contains("task_new"));
}

#[test]
fn expire_lease_requeues_while_attempts_remain() {
    let (record, token) = running();
    // A step first, so the recovery step's seq has to follow it.
    let (record, _) =
        transition::append_steps(&record, &token, &[NewStep::info("working")], at_secs(3))
            .expect("appends");
    let now = at_secs(31);
    let (requeued, step) = transition::expire_lease(&record, at_secs(40), now).expect("recovers");

    assert_touched(&record, &requeued, now);
    assert_eq!(requeued.status, TaskStatus::Queued);
    assert_eq!(requeued.attempt, 1, "the lost attempt is spent");
    assert_eq!(requeued.scheduled_at, at_secs(40));
    assert_eq!(requeued.retry_scheduled_at, Some(at_secs(40)));
    assert_eq!((requeued.lease_token.as_ref(), requeued.lease_expires_at), (None, None));
    assert_eq!((requeued.claimed_at, requeued.started_at), (None, None));
    assert_eq!(requeued.finished_at, None);
    let error = requeued.error.as_ref().expect("the recovery says why");
    assert_eq!(error.name.as_deref(), Some("LeaseExpired"));
    assert_eq!(error.code.as_deref(), Some(LEASE_EXPIRED_CODE));
    assert_eq!(LifecycleState::of(&requeued), LifecycleState::Retrying);

    assert_eq!(step.seq, 2);
    assert_eq!(requeued.last_step_seq, 2, "the step is part of the same revision");
    assert_eq!((step.kind.clone(), step.level.clone()), (StepKind::Event, StepLevel::Warn));
    assert_eq!((step.task_id.clone(), step.attempt, step.created_at), (record.id.clone(), 1, now));
    assert!(!step.message.is_empty());
}

#[test]
fn expire_lease_clamps_a_past_retry_time_to_now() {
    let (record, _) = claimed();
    let (requeued, _) = transition::expire_lease(&record, T0, at_secs(40)).expect("recovers");
    assert_eq!(requeued.scheduled_at, at_secs(40));
}

#[test]
fn expire_lease_fails_the_task_on_its_last_attempt() {
    let record = queued_with(EnqueueOptions::new().max_attempts(1));
    let (claimed, _) = claim_at(&record, at_secs(1));
    let now = at_secs(31);
    let (failed, step) = transition::expire_lease(&claimed, now, now).expect("recovers");
    assert_touched(&claimed, &failed, now);
    assert_eq!(failed.status, TaskStatus::Failed);
    assert_eq!(failed.finished_at, Some(now));
    assert_eq!(failed.retry_scheduled_at, None);
    assert_eq!(failed.error.as_ref().and_then(|e| e.code.as_deref()), Some(LEASE_EXPIRED_CODE));
    assert_eq!((step.seq, step.kind), (1, StepKind::Event));
}

#[test]
fn expire_lease_completes_a_requested_cancel() {
    let (record, _) = running_cancel_requested();
    let now = at_secs(31);
    let (ended, step) = transition::expire_lease(&record, now, now).expect("recovers");
    assert_touched(&record, &ended, now);
    assert_eq!(ended.status, TaskStatus::Cancelled);
    assert_eq!(ended.finished_at, Some(now));
    assert_eq!(ended.error.as_ref().and_then(|e| e.code.as_deref()), Some(CANCELLED_CODE));
    assert_eq!(ended.cancel_requested_at, Some(at_secs(3)));
    assert_eq!(step.seq, ended.last_step_seq);
}

#[test]
fn expire_lease_refuses_a_live_lease() {
    let (record, _) = running();
    let lease_expires_at = record.lease_expires_at;
    assert_refused(&record, TransitionRefusal::LeaseNotExpired { lease_expires_at }, |r| {
        transition::expire_lease(r, at_secs(30), at(30_999))
    });
    // At the expiry instant the lease is over.
    transition::expire_lease(&record, at_secs(31), at_secs(31)).expect("expired at its instant");
}

#[test]
fn expire_lease_refuses_a_task_that_is_not_active() {
    for status in
        [TaskStatus::Queued, TaskStatus::Succeeded, TaskStatus::Failed, TaskStatus::Cancelled]
    {
        let (record, _) = record_in(status);
        let expected = TransitionRefusal::WrongStatus { operation: "expire the lease of", status };
        assert_refused(&record, expected, |r| {
            transition::expire_lease(r, at_secs(99), at_secs(99))
        });
    }
}

#[test]
fn a_recovered_task_fences_off_its_old_worker() {
    let (record, token) = running();
    let (requeued, _) = transition::expire_lease(&record, at_secs(31), at_secs(31)).expect("ok");
    assert_refused(&requeued, TransitionRefusal::LeaseLost, |r| {
        transition::complete(r, &token, json!(1), at_secs(32))
    });
}

#[test]
fn mark_stale_marks_a_silent_task() {
    let (record, _) = running();
    let now = at_secs(62);
    let stale = transition::mark_stale(&record, Duration::from_secs(60), "no heartbeat", now)
        .expect("silent for 60 s");
    assert_touched(&record, &stale, now);
    assert_eq!(stale.stale_at, Some(now));
    assert_eq!(stale.stale_reason.as_deref(), Some("no heartbeat"));
    assert_eq!(stale.status, TaskStatus::Running, "stale is a lifecycle state, not a status");
    assert_eq!(stale.lease_token, record.lease_token);
    assert_eq!(LifecycleState::of(&stale), LifecycleState::Stale);
}

#[test]
fn mark_stale_refuses_a_task_heard_from_recently() {
    let (record, token) = running();
    let beat = transition::heartbeat(&record, &token, LEASE, at_secs(20)).expect("renews");
    let silent_for = Duration::from_secs(60);
    // Silence counts from the last sign of life (the heartbeat at T0+20s), not the claim.
    assert_refused(&beat, TransitionRefusal::NotSilent, |r| {
        transition::mark_stale(r, silent_for, "silent", at_secs(79))
    });
    transition::mark_stale(&beat, silent_for, "silent", at_secs(80)).expect("60 s of silence");
}

#[test]
fn mark_stale_refuses_a_task_already_stale() {
    let (record, _) = running();
    let stale = transition::mark_stale(&record, Duration::from_secs(1), "first", at_secs(5))
        .expect("silent");
    assert_refused(&stale, TransitionRefusal::NotSilent, |r| {
        transition::mark_stale(r, Duration::from_secs(1), "second", at_secs(60))
    });
}

#[test]
fn mark_stale_refuses_a_task_that_is_not_active() {
    for status in
        [TaskStatus::Queued, TaskStatus::Succeeded, TaskStatus::Failed, TaskStatus::Cancelled]
    {
        let (record, _) = record_in(status);
        let expected = TransitionRefusal::WrongStatus { operation: "mark stale", status };
        assert_refused(&record, expected, |r| {
            transition::mark_stale(r, Duration::ZERO, "silent", at_secs(999))
        });
    }
}

#[test]
fn is_silent_follows_mark_stale() {
    let (record, _) = claimed();
    let window = Duration::from_secs(10);
    assert!(!transition::is_silent(&record, window, at_secs(10)), "claimed at T0+1s");
    assert!(transition::is_silent(&record, window, at_secs(11)));
    let stale = transition::mark_stale(&record, window, "s", at_secs(11)).expect("silent");
    assert!(!transition::is_silent(&stale, window, at_secs(100)), "already stale");
    assert!(
        !transition::is_silent(&queued(), window, at_secs(100)),
        "queued tasks are never stale"
    );
}

#[test]
fn lifecycle_state_follows_a_whole_task() {
    let record = queued();
    assert_eq!(LifecycleState::of(&record), LifecycleState::Queued);
    let (record, token) = claim_at(&record, at_secs(1));
    assert_eq!(LifecycleState::of(&record), LifecycleState::Claimed);
    let record = transition::start(&record, &token, at_secs(2)).expect("starts");
    assert_eq!(LifecycleState::of(&record), LifecycleState::Running);
    let record =
        transition::mark_stale(&record, Duration::from_secs(10), "s", at_secs(12)).expect("silent");
    assert_eq!(LifecycleState::of(&record), LifecycleState::Stale);
    let record = transition::heartbeat(&record, &token, LEASE, at_secs(13)).expect("renews");
    assert_eq!(LifecycleState::of(&record), LifecycleState::Running);
    let record =
        transition::set_progress(&record, &token, &ProgressUpdate::percent(50.0), at_secs(14))
            .expect("sets");
    assert_eq!(LifecycleState::of(&record), LifecycleState::Running);
    let record =
        transition::fail(&record, &token, TaskError::new("x"), Some(at_secs(20)), at_secs(15))
            .expect("retries");
    assert_eq!(LifecycleState::of(&record), LifecycleState::Retrying);
    let (record, token) = claim_at(&record, at_secs(20));
    assert_eq!(LifecycleState::of(&record), LifecycleState::Claimed);
    let record = transition::start(&record, &token, at_secs(21)).expect("starts");
    let record = transition::complete(&record, &token, json!(1), at_secs(22)).expect("completes");
    assert_eq!(LifecycleState::of(&record), LifecycleState::Succeeded);
    assert_eq!(record.revision, 10, "one revision per accepted transition, from 1 at enqueue");
}

#[test]
fn a_stale_claimed_task_is_stale_until_it_starts() {
    let (record, token) = claimed();
    let stale =
        transition::mark_stale(&record, Duration::from_secs(5), "s", at_secs(6)).expect("silent");
    assert_eq!(LifecycleState::of(&stale), LifecycleState::Stale);
    let started = transition::start(&stale, &token, at_secs(7)).expect("starts");
    assert_eq!(LifecycleState::of(&started), LifecycleState::Running);
    // A token that is not the lease's cannot clear the mark.
    assert_refused(&stale, TransitionRefusal::LeaseLost, |r| {
        transition::heartbeat(r, &LeaseToken::generate(), LEASE, at_secs(7))
    });
}
