//! The lease-fenced writes a worker makes while it runs a task: `heartbeat`, `set_progress`,
//! `append_steps`, and the `check_lease` rule they share.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tasks_core::transition;
use tasks_core::{
    LeaseToken, LifecycleState, NewStep, ProgressUpdate, StepKind, StepLevel, TaskError,
    TaskStatus, TransitionRefusal,
};

#[test]
fn check_lease_accepts_only_the_live_token_of_an_active_task() {
    let (record, token) = running();
    let expires = record.lease_expires_at.expect("running tasks have a lease");
    assert_eq!(transition::check_lease(&record, &token, at_secs(3)), Ok(()));
    assert_eq!(
        transition::check_lease(&record, &LeaseToken::generate(), at_secs(3)),
        Err(TransitionRefusal::LeaseLost)
    );
    assert_eq!(
        transition::check_lease(&record, &token, expires),
        Err(TransitionRefusal::LeaseLost)
    );
    for status in [TaskStatus::Queued, TaskStatus::Succeeded, TaskStatus::Failed] {
        let mut other = record.clone();
        other.status = status;
        assert_eq!(
            transition::check_lease(&other, &token, at_secs(3)),
            Err(TransitionRefusal::LeaseLost),
            "{status:?} holds no lease"
        );
    }
}

#[test]
fn heartbeat_renews_the_lease_from_now() {
    let (record, token) = running();
    let now = at_secs(20);
    let beat = transition::heartbeat(&record, &token, Duration::from_secs(60), now)
        .expect("a live lease renews");
    assert_touched(&record, &beat, now);
    assert_eq!(beat.lease_expires_at, Some(at_secs(80)));
    assert_eq!(beat.last_heartbeat_at, Some(now));
    assert_eq!(beat.status, TaskStatus::Running);
    assert_eq!(beat.lease_token, record.lease_token);
}

#[test]
fn heartbeat_works_on_a_claimed_task_too() {
    let (record, token) = claimed();
    let beat = transition::heartbeat(&record, &token, LEASE, at_secs(2)).expect("renews");
    assert_eq!(beat.status, TaskStatus::Claimed);
    assert_eq!(beat.lease_expires_at, Some(at_secs(32)));
}

#[test]
fn heartbeat_clears_the_stale_mark() {
    let (record, token) = running();
    let stale = transition::mark_stale(&record, Duration::from_secs(10), "silent", at_secs(20))
        .expect("silent since T0+2s");
    let beat = transition::heartbeat(&stale, &token, LEASE, at_secs(21)).expect("renews");
    assert_eq!((beat.stale_at, beat.stale_reason.as_deref()), (None, None));
    assert_eq!(LifecycleState::of(&beat), LifecycleState::Running);
}

#[test]
fn heartbeat_refuses_an_expired_lease_or_a_wrong_token() {
    let (record, token) = running();
    let expires = record.lease_expires_at.expect("running tasks have a lease");
    assert_refused(&record, TransitionRefusal::LeaseLost, |r| {
        transition::heartbeat(r, &token, LEASE, expires)
    });
    assert_refused(&record, TransitionRefusal::LeaseLost, |r| {
        transition::heartbeat(r, &LeaseToken::generate(), LEASE, at_secs(3))
    });
    let (done, _) = record_in(TaskStatus::Succeeded);
    assert_refused(&done, TransitionRefusal::LeaseLost, |r| {
        transition::heartbeat(r, &token, LEASE, at_secs(6))
    });
}

#[test]
fn set_progress_merges_fields_left_empty() {
    let (record, token) = running();
    let full = ProgressUpdate::percent(10.0).label("loading").meta(object(json!({"frame": 1})));
    let first = transition::set_progress(&record, &token, &full, at_secs(3)).expect("sets");
    assert_touched(&record, &first, at_secs(3));
    assert_eq!(first.progress_percent, Some(10.0));
    assert_eq!(first.progress_label.as_deref(), Some("loading"));
    assert_eq!(first.progress_meta, Some(object(json!({"frame": 1}))));

    let second =
        transition::set_progress(&first, &token, &ProgressUpdate::percent(55.5), at_secs(4))
            .expect("sets");
    assert_touched(&first, &second, at_secs(4));
    assert_eq!(second.progress_percent, Some(55.5));
    assert_eq!(second.progress_label.as_deref(), Some("loading"), "an absent label is kept");
    assert_eq!(second.progress_meta, Some(object(json!({"frame": 1}))), "absent meta is kept");

    let label_only = ProgressUpdate { label: Some("encoding".into()), ..ProgressUpdate::default() };
    let third = transition::set_progress(&second, &token, &label_only, at_secs(5)).expect("sets");
    assert_eq!(third.progress_percent, Some(55.5), "an absent percent is kept");
    assert_eq!(third.progress_label.as_deref(), Some("encoding"));

    let meta_only =
        ProgressUpdate { meta: Some(object(json!({"frame": 2}))), ..ProgressUpdate::default() };
    let fourth = transition::set_progress(&third, &token, &meta_only, at_secs(6)).expect("sets");
    assert_eq!(fourth.progress_meta, Some(object(json!({"frame": 2}))), "meta is replaced whole");
    assert_eq!(fourth.progress_label.as_deref(), Some("encoding"));
}

#[test]
fn an_empty_progress_update_is_still_a_sign_of_life() {
    let (record, token) = running();
    let stale = transition::mark_stale(&record, Duration::from_secs(1), "silent", at_secs(5))
        .expect("silent");
    let next = transition::set_progress(&stale, &token, &ProgressUpdate::default(), at_secs(6))
        .expect("sets");
    assert_touched(&stale, &next, at_secs(6));
    assert_eq!(next.last_heartbeat_at, Some(at_secs(6)));
    assert_eq!(next.stale_at, None);
    assert_eq!(
        (next.progress_percent, next.progress_label.clone(), next.progress_meta.clone()),
        (stale.progress_percent, stale.progress_label.clone(), stale.progress_meta.clone())
    );
    assert_eq!(next.lease_expires_at, stale.lease_expires_at, "progress does not renew the lease");
}

#[test]
fn set_progress_is_lease_fenced() {
    let (record, token) = running();
    let update = ProgressUpdate::percent(50.0);
    assert_refused(&record, TransitionRefusal::LeaseLost, |r| {
        transition::set_progress(r, &LeaseToken::generate(), &update, at_secs(3))
    });
    assert_refused(&record, TransitionRefusal::LeaseLost, |r| {
        transition::set_progress(r, &token, &update, at_secs(31))
    });
    let released = transition::release(&record, &token, at_secs(3)).expect("releases");
    assert_refused(&released, TransitionRefusal::LeaseLost, |r| {
        transition::set_progress(r, &token, &update, at_secs(4))
    });
}

#[test]
fn append_steps_numbers_a_batch_without_gaps_in_one_revision() {
    let (record, token) = running();
    let steps = [
        NewStep::info("loading inputs").percent(10.0),
        NewStep::info("downloaded")
            .kind(StepKind::Checkpoint)
            .level(StepLevel::Success)
            .meta(object(json!({"bytes": 1024}))),
        NewStep::info("custom").kind(StepKind::Custom("upload".into())).level(StepLevel::Warn),
    ];
    let now = at_secs(3);
    let (next, appended) = transition::append_steps(&record, &token, &steps, now).expect("appends");

    assert_touched(&record, &next, now);
    assert_eq!(next.last_step_seq, 3);
    assert_eq!(next.last_heartbeat_at, Some(now));
    assert_eq!(appended.iter().map(|s| s.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    for (step, new) in appended.iter().zip(&steps) {
        assert_eq!(step.task_id, record.id);
        assert_eq!(step.attempt, 1);
        assert_eq!(step.created_at, now);
        assert_eq!(
            (&step.kind, &step.level, &step.message, &step.meta, step.percent),
            (&new.kind, &new.level, &new.message, &new.meta, new.percent)
        );
    }
    assert_ne!(appended[0].id, appended[1].id, "every step gets its own id");
    assert_ne!(appended[1].id, appended[2].id);

    let (after, more) =
        transition::append_steps(&next, &token, &steps[..2], at_secs(4)).expect("appends");
    assert_touched(&next, &after, at_secs(4));
    assert_eq!(more.iter().map(|s| s.seq).collect::<Vec<_>>(), vec![4, 5]);
    assert_eq!(after.last_step_seq, 5);
}

#[test]
fn steps_continue_their_numbering_across_attempts_and_carry_the_attempt() {
    let (record, token) = running();
    let (first, _) = transition::append_steps(&record, &token, &[NewStep::info("one")], at_secs(3))
        .expect("appends");
    let retried =
        transition::fail(&first, &token, TaskError::new("boom"), Some(at_secs(10)), at_secs(4))
            .expect("retries");
    let (claimed, second_token) = claim_at(&retried, at_secs(10));
    let (_, steps) =
        transition::append_steps(&claimed, &second_token, &[NewStep::info("two")], at_secs(11))
            .expect("appends");
    assert_eq!((steps[0].seq, steps[0].attempt), (2, 2));
}

#[test]
fn append_steps_clears_the_stale_mark() {
    let (record, token) = running();
    let stale = transition::mark_stale(&record, Duration::from_secs(1), "silent", at_secs(5))
        .expect("silent");
    let (next, _) = transition::append_steps(&stale, &token, &[NewStep::info("alive")], at_secs(6))
        .expect("appends");
    assert_eq!((next.stale_at, next.stale_reason.as_deref()), (None, None));
}

#[test]
fn append_steps_is_lease_fenced() {
    let (record, token) = running();
    let steps = [NewStep::info("late")];
    assert_refused(&record, TransitionRefusal::LeaseLost, |r| {
        transition::append_steps(r, &LeaseToken::generate(), &steps, at_secs(3))
    });
    assert_refused(&record, TransitionRefusal::LeaseLost, |r| {
        transition::append_steps(r, &token, &steps, at_secs(31))
    });
    let (failed, _) = record_in(TaskStatus::Failed);
    assert_refused(&failed, TransitionRefusal::LeaseLost, |r| {
        transition::append_steps(r, &token, &steps, at_secs(6))
    });
}
