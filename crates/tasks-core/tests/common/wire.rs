//! Wire fixtures shared by the golden tests: one record with every optional field set, a step,
//! an aggregate and a step event about them, each with its expected JSON document, and
//! [`assert_golden`], which compares whole documents both ways.
//!
//! Fields that are ours and not the spec's are marked "ours" in the documents.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tasks_core::{
    LeaseToken, LifecycleEventName, StateCounts, StatusCounts, StepId, StepKind, StepLevel,
    StepRecord, TaskAggregate, TaskError, TaskId, TaskLifecycleEvent, TaskRecord, TaskSnapshot,
    TaskStatus, Timestamp,
};

use super::object;

/// 2025-06-21T10:15:30.000Z plus `millis`.
pub(crate) fn ts(millis: i64) -> Timestamp {
    Timestamp::from_millis(1_750_500_930_000 + millis)
}

/// The fixture task's id, `task_42`.
pub(crate) fn task_id() -> TaskId {
    TaskId::new("task_42").expect("valid id")
}

/// An error with every optional field set.
pub(crate) fn error() -> TaskError {
    let mut error = TaskError::new("attempt 1 timed out")
        .with_name("TimeoutError")
        .with_code("timeout")
        .with_details(json!({"afterMs": 30000}));
    error.stack = Some("TimeoutError: attempt 1 timed out\n    at run".into());
    error
}

/// The JSON of [`error`].
pub(crate) fn error_json() -> Value {
    json!({
        "message": "attempt 1 timed out",
        "name": "TimeoutError",
        "code": "timeout",
        "stack": "TimeoutError: attempt 1 timed out\n    at run",
        "details": {"afterMs": 30000}
    })
}

/// A record with every optional field set. It is a wire fixture, not a state the machine
/// reaches (a running task has no output), so that no field can hide behind a `null`.
pub(crate) fn record() -> TaskRecord {
    TaskRecord {
        id: task_id(),
        kind: "report.generate".into(),
        status: TaskStatus::Running,
        input: json!({"reportId": "rpt_42"}),
        output: Some(json!({"outputPath": "/tmp/reports/rpt_42.json"})),
        error: Some(error()),
        metadata: Some(object(json!({"requestedBy": "alice"}))),
        progress_percent: Some(42.5),
        progress_label: Some("transcoding".into()),
        progress_meta: Some(object(json!({"frame": 1820}))),
        concurrency_key: Some("report:rpt_42".into()),
        dedupe_key: Some("report:rpt_42".into()),
        supersede_key: Some("scan:repo_7".into()),
        channels: vec!["scope:workspace:42".into(), "task:task_42".into()],
        attempt: 2,
        max_attempts: 3,
        priority: 5,
        scheduled_at: ts(1_000),
        created_at: ts(0),
        updated_at: ts(5_000),
        claimed_at: Some(ts(2_250)),
        started_at: Some(ts(3_001)),
        finished_at: Some(ts(8_000)),
        cancel_requested_at: Some(ts(6_000)),
        lease_owner: Some("runner-a".into()),
        lease_token: Some(LeaseToken::from_stored("secret-token".into())),
        lease_expires_at: Some(ts(34_000)),
        last_heartbeat_at: Some(ts(4_000)),
        retry_scheduled_at: Some(ts(60_000)),
        stale_at: Some(ts(7_000)),
        stale_reason: Some("no heartbeat for 60 s".into()),
        last_step_seq: 7,
        revision: 12,
    }
}

/// The JSON of [`record`], the spec's `TaskRecord` (lease token included: the record is what a
/// store and the host's events carry; snapshots drop it).
pub(crate) fn record_json() -> Value {
    json!({
        "id": "task_42",
        "kind": "report.generate",
        "status": "running",
        "input": {"reportId": "rpt_42"},
        "output": {"outputPath": "/tmp/reports/rpt_42.json"},
        "error": error_json(),
        "metadata": {"requestedBy": "alice"},
        "progressPercent": 42.5,
        "progressLabel": "transcoding",
        "progressMeta": {"frame": 1820},
        "concurrencyKey": "report:rpt_42",
        "dedupeKey": "report:rpt_42",
        "supersedeKey": "scan:repo_7",
        "channels": ["scope:workspace:42", "task:task_42"],
        "attempt": 2,
        "maxAttempts": 3,
        "priority": 5, // ours
        "scheduledAt": "2025-06-21T10:15:31.000Z",
        "createdAt": "2025-06-21T10:15:30.000Z",
        "updatedAt": "2025-06-21T10:15:35.000Z",
        "claimedAt": "2025-06-21T10:15:32.250Z",
        "startedAt": "2025-06-21T10:15:33.001Z",
        "finishedAt": "2025-06-21T10:15:38.000Z",
        "cancelRequestedAt": "2025-06-21T10:15:36.000Z",
        "leaseOwner": "runner-a",
        "leaseToken": "secret-token",
        "leaseExpiresAt": "2025-06-21T10:16:04.000Z",
        "lastHeartbeatAt": "2025-06-21T10:15:34.000Z",
        "retryScheduledAt": "2025-06-21T10:16:30.000Z",
        "staleAt": "2025-06-21T10:15:37.000Z",
        "staleReason": "no heartbeat for 60 s",
        "lastStepSeq": 7, // ours: where step replay ends
        "revision": 12 // ours: readers keep the highest
    })
}

/// A checkpoint step of the fixture task, with meta and percent.
pub(crate) fn step() -> StepRecord {
    StepRecord {
        id: StepId::from_stored("step_01".into()),
        task_id: task_id(),
        seq: 7,
        attempt: 2,
        kind: StepKind::Checkpoint,
        level: StepLevel::Success,
        message: "Source downloaded".into(),
        meta: Some(object(json!({"bytes": 1024}))),
        percent: Some(20.0),
        created_at: ts(4_500),
    }
}

/// The JSON of [`step`], the spec's `TaskStepRecord`.
pub(crate) fn step_json() -> Value {
    json!({
        "id": "step_01",
        "taskId": "task_42",
        "seq": 7, // ours: the per-task replay cursor
        "attempt": 2,
        "kind": "checkpoint",
        "level": "success",
        "message": "Source downloaded",
        "meta": {"bytes": 1024},
        "percent": 20.0,
        "createdAt": "2025-06-21T10:15:34.500Z"
    })
}

/// Counts with every map filled.
pub(crate) fn aggregate() -> TaskAggregate {
    TaskAggregate {
        total: 5,
        by_state: StateCounts {
            queued: 1,
            running: 1,
            retrying: 1,
            succeeded: 1,
            stale: 1,
            ..StateCounts::default()
        },
        by_status: StatusCounts { queued: 2, running: 2, succeeded: 1, ..StatusCounts::default() },
        by_kind: BTreeMap::from([("report.generate".into(), 3), ("scan.repository".into(), 2)]),
        updated_at: Some(ts(5_000)),
    }
}

/// The JSON of [`aggregate`], the spec's `TaskAggregateSnapshot`.
pub(crate) fn aggregate_json() -> Value {
    json!({
        "total": 5,
        "byState": {
            "queued": 1, "claimed": 0, "running": 1, "retrying": 1,
            "succeeded": 1, "failed": 0, "cancelled": 0, "stale": 1
        },
        "byStatus": {
            "queued": 2, "claimed": 0, "running": 2,
            "succeeded": 1, "failed": 0, "cancelled": 0
        },
        "byKind": {"report.generate": 3, "scan.repository": 2},
        "updatedAt": "2025-06-21T10:15:35.000Z"
    })
}

/// The spec's `TaskProgressState` of [`record`].
pub(crate) fn progress_json() -> Value {
    json!({
        "state": "stale",
        "percent": 42.5,
        "label": "transcoding",
        "meta": {"frame": 1820},
        "startedAt": "2025-06-21T10:15:33.001Z",
        "updatedAt": "2025-06-21T10:15:35.000Z",
        "finishedAt": "2025-06-21T10:15:38.000Z",
        "retryScheduledAt": "2025-06-21T10:16:30.000Z",
        "staleAt": "2025-06-21T10:15:37.000Z",
        "staleReason": "no heartbeat for 60 s",
        "lastHeartbeatAt": "2025-06-21T10:15:34.000Z"
    })
}

/// The snapshot of [`record`], without steps: the spec's `TaskSnapshot`. The lease token must
/// never appear.
pub(crate) fn snapshot_json() -> Value {
    json!({
        "taskId": "task_42",
        "kind": "report.generate",
        "status": "running",
        "state": "stale",
        "input": {"reportId": "rpt_42"},
        "output": {"outputPath": "/tmp/reports/rpt_42.json"},
        "error": error_json(),
        "metadata": {"requestedBy": "alice"},
        "progress": progress_json(),
        "concurrencyKey": "report:rpt_42",
        "dedupeKey": "report:rpt_42",
        "supersedeKey": "scan:repo_7",
        "channels": ["scope:workspace:42", "task:task_42"],
        "attempt": 2,
        "maxAttempts": 3,
        "priority": 5, // ours
        "scheduledAt": "2025-06-21T10:15:31.000Z",
        "createdAt": "2025-06-21T10:15:30.000Z",
        "updatedAt": "2025-06-21T10:15:35.000Z",
        "claimedAt": "2025-06-21T10:15:32.250Z",
        "startedAt": "2025-06-21T10:15:33.001Z",
        "finishedAt": "2025-06-21T10:15:38.000Z",
        "cancelRequestedAt": "2025-06-21T10:15:36.000Z",
        "leaseOwner": "runner-a",
        "leaseExpiresAt": "2025-06-21T10:16:04.000Z",
        "lastStepSeq": 7, // ours: where step replay ends
        "revision": 12 // ours: readers keep the highest
    })
}

/// A `step` lifecycle event about [`record`] carrying [`step`], at `ts(9_000)`.
pub(crate) fn lifecycle_event() -> TaskLifecycleEvent {
    TaskLifecycleEvent::of(
        LifecycleEventName::Step,
        TaskSnapshot::from_record(&record()),
        ts(9_000),
    )
    .with_step(step())
}

/// The JSON of [`lifecycle_event`], the spec's `TaskLifecycleEvent`. A step event carries no
/// disposition, superseded ids, error or output, so those keys are absent.
pub(crate) fn lifecycle_event_json() -> Value {
    json!({
        "type": "task.lifecycle",
        "event": "step",
        "timestamp": "2025-06-21T10:15:39.000Z",
        "runnerId": "runner-a",
        "taskId": "task_42",
        "kind": "report.generate",
        "snapshot": snapshot_json(),
        "step": step_json(),
        "channels": ["scope:workspace:42", "task:task_42"],
        "revision": 12 // ours: readers drop events not newer than what they hold
    })
}

/// Checks that `value` serializes to exactly `expected`, and that `expected` reads back as
/// `value`.
pub(crate) fn assert_golden<T>(value: &T, expected: Value)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let actual = serde_json::to_value(value).expect("serializes");
    assert_eq!(actual, expected, "wire shape\n{}", pretty(&actual));
    let back: T = serde_json::from_value(expected).expect("the golden reads back");
    assert_eq!(&back, value, "round trip");
}

/// `value` as indented text, for failure messages.
pub(crate) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
