//! The selection rules every store shares with core: which open task blocks a dedupe, which
//! tasks a superseding enqueue replaces, which tasks a claim may take and in what order, and
//! which finished tasks retention deletes. Stores express these in SQL; the memory store calls
//! them directly, so they are pinned here on records core's own transitions produce.

mod common;

use std::time::Duration;

use common::*;
use tasks_core::enqueue::{blocks_dedupe, is_superseded_by};
use tasks_core::lease::{claim_order, is_claimable};
use tasks_core::{EnqueueOptions, RetentionPolicy, TaskId, TaskRecord, TaskStatus};

/// A record in `status` carrying `dedupe_key` and `supersede_key` "k".
fn keyed(status: TaskStatus) -> TaskRecord {
    let (mut record, _) = record_in(status);
    record.dedupe_key = Some("k".to_owned());
    record.supersede_key = Some("k".to_owned());
    record
}

#[test]
fn only_an_open_task_without_a_cancel_request_blocks_a_dedupe() {
    for status in TaskStatus::ALL {
        let record = keyed(status);
        assert_eq!(blocks_dedupe(&record, KIND, "k"), status.is_open(), "{status:?}");
    }
    let (asked, _) = running_cancel_requested();
    let asked = TaskRecord { dedupe_key: Some("k".to_owned()), ..asked };
    assert!(!blocks_dedupe(&asked, KIND, "k"), "a task asked to cancel lets a new one in");
}

#[test]
fn a_dedupe_needs_the_same_kind_and_key() {
    let record = keyed(TaskStatus::Queued);
    assert!(blocks_dedupe(&record, KIND, "k"));
    assert!(!blocks_dedupe(&record, "other.kind", "k"));
    assert!(!blocks_dedupe(&record, KIND, "K"), "keys are compared exactly");
    let unkeyed = queued();
    assert!(!blocks_dedupe(&unkeyed, KIND, "k"));
}

#[test]
fn supersede_replaces_open_tasks_of_the_same_kind_and_key_even_when_asked_to_cancel() {
    for status in TaskStatus::ALL {
        let record = keyed(status);
        assert_eq!(is_superseded_by(&record, KIND, "k"), status.is_open(), "{status:?}");
    }
    let (asked, _) = running_cancel_requested();
    let asked = TaskRecord { supersede_key: Some("k".to_owned()), ..asked };
    assert!(is_superseded_by(&asked, KIND, "k"));
    let record = keyed(TaskStatus::Running);
    assert!(!is_superseded_by(&record, "other.kind", "k"));
    assert!(!is_superseded_by(&record, KIND, "other"));
}

#[test]
fn a_claim_takes_only_queued_tasks_that_are_due() {
    for status in TaskStatus::ALL {
        let (record, _) = record_in(status);
        assert_eq!(is_claimable(&record, at_secs(10)), status == TaskStatus::Queued, "{status:?}");
    }
    let delayed = queued_with(EnqueueOptions::new().delay(Duration::from_secs(5)));
    assert!(!is_claimable(&delayed, at(4_999)), "not before its schedule");
    assert!(is_claimable(&delayed, at(5_000)), "due at its schedule exactly");
    let retrying = retrying();
    assert!(!is_claimable(&retrying, at_secs(64)), "a retry waits for its backoff");
    assert!(is_claimable(&retrying, at_secs(65)));
}

#[test]
fn claim_order_is_priority_then_schedule_then_id() {
    let with = |id: &str, priority: i32, scheduled_ms: i64| TaskRecord {
        id: TaskId::new(id).expect("a valid id"),
        priority,
        scheduled_at: at(scheduled_ms),
        ..queued()
    };
    let mut records =
        [with("c", 0, 0), with("b", 0, 0), with("a", 0, 10), with("z", 5, 20), with("y", -1, 0)];
    records.sort_by(claim_order);
    let ids: Vec<&str> = records.iter().map(|record| record.id.as_str()).collect();
    assert_eq!(ids, ["z", "b", "c", "a", "y"]);
}

#[test]
fn ttl_counts_from_finished_at_for_the_outcome_it_names() {
    let policy = RetentionPolicy {
        success_ttl: Some(Duration::from_secs(10)),
        failed_ttl: Some(Duration::from_secs(20)),
        ..RetentionPolicy::default()
    };
    let (succeeded, _) = record_in(TaskStatus::Succeeded);
    let finished = succeeded.finished_at.expect("a finished task has finishedAt");
    assert!(!policy.ttl_expired(&succeeded, finished.saturating_add(Duration::from_millis(9_999))));
    assert!(policy.ttl_expired(&succeeded, finished.saturating_add(Duration::from_secs(10))));

    let (failed, _) = record_in(TaskStatus::Failed);
    let finished = failed.finished_at.expect("a finished task has finishedAt");
    assert!(!policy.ttl_expired(&failed, finished.saturating_add(Duration::from_secs(19))));
    assert!(policy.ttl_expired(&failed, finished.saturating_add(Duration::from_secs(20))));

    let (cancelled, _) = record_in(TaskStatus::Cancelled);
    assert!(!policy.ttl_expired(&cancelled, at_secs(1_000_000)), "no cancelled TTL set");

    for status in [TaskStatus::Queued, TaskStatus::Claimed, TaskStatus::Running] {
        let (record, _) = record_in(status);
        let all_zero = RetentionPolicy {
            success_ttl: Some(Duration::ZERO),
            failed_ttl: Some(Duration::ZERO),
            cancelled_ttl: Some(Duration::ZERO),
            ..RetentionPolicy::default()
        };
        assert!(!all_zero.ttl_expired(&record, at_secs(1_000_000)), "{status:?} never expires");
    }
}

#[test]
fn keep_latest_applies_to_succeeded_and_failed_only() {
    let policy = RetentionPolicy {
        keep_latest_successes_per_kind: Some(3),
        keep_latest_failures_per_kind: Some(7),
        ..RetentionPolicy::default()
    };
    let limits: Vec<Option<u32>> =
        TaskStatus::ALL.iter().map(|status| policy.keep_latest(*status)).collect();
    let expected: Vec<Option<u32>> = TaskStatus::ALL
        .iter()
        .map(|status| match status {
            TaskStatus::Succeeded => Some(3),
            TaskStatus::Failed => Some(7),
            _ => None,
        })
        .collect();
    assert_eq!(limits, expected);
    assert!(RetentionPolicy::default().is_empty());
    assert!(!policy.is_empty());
}
