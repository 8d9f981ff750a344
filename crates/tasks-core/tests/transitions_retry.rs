//! An operator's `retry` (a waiting task becomes due; a failed or cancelled one is queued
//! again with one more attempt when needed; active and succeeded tasks are refused, as is a
//! reopening that would share a dedupe key) and [`Finish`], the item of a finish batch, which
//! must validate and apply exactly as the single transitions do.

mod common;

use common::*;
use serde_json::json;
use tasks_core::limits::{MAX_PAYLOAD_BYTES, MAX_TEXT_LEN};
use tasks_core::transition;
use tasks_core::{
    EnqueueOptions, InvalidInput, Lease, LeaseToken, LifecycleState, StepKind, TaskError, TaskId,
    TaskStatus, TransitionRefusal,
};

#[test]
fn retry_makes_a_scheduled_task_due_and_records_an_event() {
    let later = queued_with(EnqueueOptions::new().delay(std::time::Duration::from_secs(600)));
    let now = at_secs(10);
    let (due, step) = transition::retry(&later, None, now).expect("a queued task is retried");
    assert_touched(&later, &due, now);
    assert_eq!((due.status, due.scheduled_at), (TaskStatus::Queued, now));
    assert_eq!(due.attempt, 0);
    assert_eq!((step.kind, step.seq, step.attempt), (StepKind::Event, 1, 0));
    assert_eq!((due.last_step_seq, step.created_at, &step.task_id), (1, now, &later.id));

    // One already due keeps its place in the claim order.
    let early = queued();
    let (kept, _) = transition::retry(&early, None, at_secs(10)).expect("retried");
    assert_eq!(kept.scheduled_at, T0);

    // One waiting for its retry stays a retry, now due.
    let waiting = retrying();
    let (now_due, _) = transition::retry(&waiting, None, at_secs(6)).expect("retried");
    assert_eq!((now_due.scheduled_at, now_due.retry_scheduled_at), (at_secs(6), Some(at_secs(6))));
    assert_eq!(LifecycleState::of(&now_due), LifecycleState::Retrying);
    assert_eq!(now_due.error, waiting.error, "the failed attempt's error stays until the next run");
}

#[test]
fn retry_queues_a_failed_task_again() {
    let (failed, _) = record_in(TaskStatus::Failed);
    let now = at_secs(20);
    let (again, step) = transition::retry(&failed, None, now).expect("a failed task is retried");
    assert_touched(&failed, &again, now);
    assert_eq!(again.status, TaskStatus::Queued);
    assert_eq!(LifecycleState::of(&again), LifecycleState::Queued);
    assert_eq!((again.scheduled_at, again.retry_scheduled_at), (now, None));
    assert_eq!(
        (again.error.as_ref(), again.output.as_ref(), again.finished_at),
        (None, None, None)
    );
    assert_eq!((again.claimed_at, again.started_at, again.last_heartbeat_at), (None, None, None));
    assert_eq!((again.lease_owner.as_ref(), again.lease_token.as_ref()), (None, None));
    assert_eq!((again.attempt, again.max_attempts), (1, 3), "attempts left: nothing raised");
    assert_eq!((step.kind, step.attempt), (StepKind::Event, 1));
    let (claimed, _) = claim_at(&again, now);
    assert_eq!(claimed.attempt, 2);
}

#[test]
fn retry_raises_max_attempts_when_they_are_used_up() {
    let (record, token) = claim_at(&queued_with(EnqueueOptions::new().max_attempts(1)), at_secs(1));
    let failed =
        transition::fail(&record, &token, TaskError::new("x"), Some(at_secs(3)), at_secs(2))
            .expect("fails");
    assert_eq!(failed.status, TaskStatus::Failed, "no attempt left");
    let (again, _) = transition::retry(&failed, None, at_secs(4)).expect("retried");
    assert_eq!((again.attempt, again.max_attempts), (1, 2));
    let (claimed, token) = claim_at(&again, at_secs(4));
    let last =
        transition::fail(&claimed, &token, TaskError::new("y"), Some(at_secs(6)), at_secs(5))
            .expect("fails");
    assert_eq!(last.status, TaskStatus::Failed, "the extra attempt was the only one");
}

#[test]
fn retry_queues_a_cancelled_task_without_its_cancel_request() {
    let (cancelled, _) = record_in(TaskStatus::Cancelled);
    assert!(cancelled.cancel_requested_at.is_some());
    let (again, _) = transition::retry(&cancelled, None, at_secs(9)).expect("retried");
    assert_eq!(
        (again.status, again.cancel_requested_at, again.error.as_ref()),
        (TaskStatus::Queued, None, None)
    );
    // Without the request cleared, the next failure would end cancelled instead of retrying.
    let (claimed, token) = claim_at(&again, at_secs(9));
    let failed =
        transition::fail(&claimed, &token, TaskError::new("x"), Some(at_secs(20)), at_secs(10))
            .expect("fails");
    assert_eq!(failed.status, TaskStatus::Queued);
}

#[test]
fn retry_refuses_claimed_running_and_succeeded_tasks() {
    for status in [TaskStatus::Claimed, TaskStatus::Running, TaskStatus::Succeeded] {
        let (record, _) = record_in(status);
        assert_refused(
            &record,
            TransitionRefusal::WrongStatus { operation: "retry", status },
            |r| transition::retry(r, None, at_secs(30)),
        );
    }
}

#[test]
fn retry_refuses_a_finished_task_whose_dedupe_key_is_held() {
    let keyed = queued_with(EnqueueOptions::new().dedupe_key("nightly"));
    let (claimed, token) = claim_at(&keyed, at_secs(1));
    let failed =
        transition::fail(&claimed, &token, TaskError::new("x"), None, at_secs(2)).expect("fails");
    assert_eq!(transition::retry_dedupe_key(&failed), Some("nightly"));
    assert_eq!(transition::retry_dedupe_key(&keyed), None, "an open task holds its own key");
    assert_eq!(transition::retry_dedupe_key(&queued()), None, "no key, nothing to check");
    let holder = TaskId::new("holder").expect("valid id");
    let expected =
        TransitionRefusal::DedupeKeyHeld { key: "nightly".into(), holder: holder.clone() };
    assert_refused(&failed, expected, |r| transition::retry(r, Some(&holder), at_secs(3)));
    // A queued task is open already: a holder found for it is not a reason to refuse.
    transition::retry(&keyed, Some(&holder), at_secs(3)).expect("a queued task is retried");
}

#[test]
fn finish_applies_the_single_transitions() {
    let (record, token) = running();
    let lease = Lease { task_id: record.id.clone(), token: token.clone() };
    let now = at_secs(4);
    let cases = [
        (
            tasks_core::Finish::Complete { lease: lease.clone(), output: json!({"rows": 1}) },
            transition::complete(&record, &token, json!({"rows": 1}), now),
        ),
        (
            tasks_core::Finish::Fail {
                lease: lease.clone(),
                error: TaskError::new("x"),
                retry_at: Some(at_secs(9)),
            },
            transition::fail(&record, &token, TaskError::new("x"), Some(at_secs(9)), now),
        ),
        (
            tasks_core::Finish::AcknowledgeCancel {
                lease: lease.clone(),
                reason: Some("r".into()),
            },
            transition::acknowledge_cancel(&record, &token, Some("r"), now),
        ),
    ];
    for (finish, single) in cases {
        assert_eq!(finish.lease(), &lease);
        assert_eq!(
            finish.apply(&record, now),
            single,
            "{} as its single transition",
            finish.operation()
        );
    }
    let stale = tasks_core::Finish::Complete {
        lease: Lease { task_id: record.id.clone(), token: LeaseToken::generate() },
        output: json!(null),
    };
    assert_refused(&record, TransitionRefusal::LeaseLost, |r| stale.apply(r, now));
}

#[test]
fn finish_validates_as_the_single_calls_do() {
    let (record, token) = running();
    let lease = Lease { task_id: record.id.clone(), token };
    let huge = tasks_core::Finish::Complete {
        lease: lease.clone(),
        output: json!("o".repeat(MAX_PAYLOAD_BYTES)),
    };
    assert!(matches!(huge.validate(), Err(InvalidInput::TooLarge { field: "output", .. })));
    let long = TaskError::new("e".repeat(MAX_TEXT_LEN + 1));
    let fail = tasks_core::Finish::Fail { lease: lease.clone(), error: long, retry_at: None };
    assert!(matches!(fail.validate(), Err(InvalidInput::Text { field: "error message", .. })));
    let reason = Some("r".repeat(MAX_TEXT_LEN + 1));
    let ack = tasks_core::Finish::AcknowledgeCancel { lease: lease.clone(), reason };
    assert!(matches!(ack.validate(), Err(InvalidInput::Text { field: "reason", .. })));
    let fine = tasks_core::Finish::AcknowledgeCancel { lease, reason: None };
    assert_eq!(fine.validate(), Ok(()));
}

#[test]
fn finish_round_trips_as_json() {
    let (record, token) = running();
    let finish = tasks_core::Finish::Fail {
        lease: Lease { task_id: record.id, token },
        error: TaskError::new("x"),
        retry_at: Some(at_secs(9)),
    };
    let text = serde_json::to_string(&finish).expect("serializes");
    assert!(text.contains(r#""type":"fail""#), "tagged by its operation: {text}");
    assert!(text.contains(r#""retryAt":"#), "camelCase fields, as every wire shape: {text}");
    let back: tasks_core::Finish = serde_json::from_str(&text).expect("parses");
    assert_eq!(back, finish);
}
