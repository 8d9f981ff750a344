//! Golden JSON: the wire shape of the snapshot, step, aggregate, lifecycle event, event entry
//! and both live messages, pinned field by field against the spec's TypeScript shapes
//! (`TaskSnapshot`, `TaskProgressState`, `TaskStepRecord`, `TaskAggregateSnapshot`,
//! `TaskLifecycleEvent`, `TaskEventEntry`, `TaskLiveMessage`).
//!
//! Each value is compared whole with `assert_eq!` on `serde_json::Value`, so a renamed, added
//! or missing field fails. Fields that are ours and not the spec's are marked "ours". Each
//! golden is also read back and compared with the value it came from.

mod common;

use std::collections::BTreeMap;

use common::object;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tasks_core::{
    ChangeCursor, LeaseToken, LifecycleEventName, LifecycleState, StateCounts, StatusCounts,
    StepId, StepKind, StepLevel, StepRecord, SubscriptionQuery, TaskAggregate, TaskError,
    TaskEventEntry, TaskEventEntryType, TaskFilter, TaskId, TaskLifecycleEvent, TaskLiveMessage,
    TaskRecord, TaskSnapshot, TaskStatus, TaskSubscriptionBootstrap, Timestamp,
};

/// 2025-06-21T10:15:30.000Z plus `millis`.
fn ts(millis: i64) -> Timestamp {
    Timestamp::from_millis(1_750_500_930_000 + millis)
}

fn task_id() -> TaskId {
    TaskId::new("task_42").expect("valid id")
}

/// A record with every optional field set. It is a wire fixture, not a state the machine
/// reaches (a running task has no output), so that no field can hide behind a `null`.
fn record() -> TaskRecord {
    TaskRecord {
        id: task_id(),
        kind: "report.generate".into(),
        status: TaskStatus::Running,
        input: json!({"reportId": "rpt_42"}),
        output: Some(json!({"outputPath": "/tmp/reports/rpt_42.json"})),
        error: Some(
            TaskError::new("attempt 1 timed out")
                .with_name("TimeoutError")
                .with_code("timeout")
                .with_details(json!({"afterMs": 30000})),
        ),
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

fn step() -> StepRecord {
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

fn aggregate() -> TaskAggregate {
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

fn lifecycle_event() -> TaskLifecycleEvent {
    TaskLifecycleEvent::of(
        LifecycleEventName::Step,
        TaskSnapshot::from_record(&record()),
        ts(9_000),
    )
    .with_step(step())
}

fn step_json() -> Value {
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

fn progress_json() -> Value {
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

/// The snapshot of `record()`, without steps. The lease token must never appear.
fn snapshot_json() -> Value {
    json!({
        "id": "task_42",
        "kind": "report.generate",
        "status": "running",
        "state": "stale",
        "input": {"reportId": "rpt_42"},
        "output": {"outputPath": "/tmp/reports/rpt_42.json"},
        "error": {
            "message": "attempt 1 timed out",
            "name": "TimeoutError",
            "code": "timeout",
            "details": {"afterMs": 30000}
        },
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

fn aggregate_json() -> Value {
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

fn lifecycle_event_json() -> Value {
    json!({
        "event": "step",
        "taskId": "task_42",
        "kind": "report.generate",
        "revision": 12, // ours: readers drop events not newer than what they hold
        "runnerId": "runner-a",
        "snapshot": snapshot_json(),
        "step": step_json(),
        "timestamp": "2025-06-21T10:15:39.000Z"
    })
}

/// Checks that `value` serializes to exactly `expected`, and that `expected` reads back as
/// `value`.
fn assert_golden<T>(value: &T, expected: Value)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let actual = serde_json::to_value(value).expect("serializes");
    assert_eq!(actual, expected, "wire shape\n{}", pretty(&actual));
    let back: T = serde_json::from_value(expected).expect("the golden reads back");
    assert_eq!(&back, value, "round trip");
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

#[test]
fn step_record() {
    assert_golden(&step(), step_json());
}

#[test]
fn snapshot_with_progress_error_and_steps() {
    let snapshot = TaskSnapshot::from_record(&record()).with_steps(vec![step()]);
    let mut expected = snapshot_json();
    // `steps` is present only when the read asked for steps (the spec's `readSnapshot`).
    expected["steps"] = json!([step_json()]);
    assert_golden(&snapshot, expected);
}

#[test]
fn snapshot_without_steps_has_no_steps_key() {
    assert_golden(&TaskSnapshot::from_record(&record()), snapshot_json());
}

#[test]
fn absent_values_are_null_not_missing() {
    let fresh =
        tasks_core::NewTask::new("report.generate", json!(null)).into_record(ts(0)).expect("valid");
    let json = serde_json::to_value(TaskSnapshot::from_record(&fresh)).expect("serializes");
    let keys = |value: &Value| -> Vec<String> {
        value.as_object().map(|map| map.keys().cloned().collect()).unwrap_or_default()
    };
    assert_eq!(keys(&json), keys(&snapshot_json()), "the same keys, set or not");
    assert_eq!(keys(&json["progress"]), keys(&progress_json()));
    for key in ["output", "error", "metadata", "claimedAt", "startedAt", "finishedAt", "leaseOwner"]
    {
        assert_eq!(json[key], Value::Null, "{key}");
    }
    for key in ["percent", "label", "meta", "staleAt", "retryScheduledAt", "lastHeartbeatAt"] {
        assert_eq!(json["progress"][key], Value::Null, "progress.{key}");
    }
    assert_eq!(json["state"], json!("queued"));
    assert_eq!(json["progress"]["updatedAt"], json!("2025-06-21T10:15:30.000Z"));
}

#[test]
fn task_error_with_only_a_message() {
    assert_golden(
        &TaskError::new("boom"),
        json!({"message": "boom", "name": null, "code": null, "details": null}),
    );
}

#[test]
fn aggregate_counts() {
    assert_golden(&aggregate(), aggregate_json());
    let empty = serde_json::to_value(TaskAggregate::default()).expect("serializes");
    assert_eq!(empty["updatedAt"], Value::Null);
    assert_eq!(empty["byState"]["stale"], json!(0), "every state is always present");
}

#[test]
fn lifecycle_step_event_with_snapshot_and_step() {
    assert_golden(&lifecycle_event(), lifecycle_event_json());
}

#[test]
fn event_entry() {
    let entry = TaskEventEntry {
        entry_type: TaskEventEntryType::Step,
        level: StepLevel::Success,
        message: "Source downloaded".into(),
        percent: Some(20.0),
        timestamp: ts(9_000),
        metadata: Some(object(json!({"bytes": 1024}))),
        runner_id: Some("runner-a".into()),
        task_id: Some(task_id()),
        kind: Some("report.generate".into()),
        state: Some(LifecycleState::Stale),
        channels: vec!["scope:workspace:42".into()],
        step_id: Some(StepId::from_stored("step_01".into())),
    };
    assert_golden(
        &entry,
        json!({
            "type": "step",
            "level": "success",
            "message": "Source downloaded",
            "percent": 20.0,
            "timestamp": "2025-06-21T10:15:39.000Z",
            "metadata": {"bytes": 1024},
            "runnerId": "runner-a",
            "taskId": "task_42",
            "kind": "report.generate",
            "state": "stale",
            "channels": ["scope:workspace:42"],
            "stepId": "step_01"
        }),
    );
}

#[test]
fn event_entry_of_a_step_event_matches_the_golden_entry() {
    let entry = tasks_core::normalize_lifecycle_event_entry(&lifecycle_event());
    let json = serde_json::to_value(&entry).expect("serializes");
    assert_eq!(json["type"], json!("step"));
    assert_eq!(json["stepId"], json!("step_01"));
    assert_eq!(json["state"], json!("stale"));
    assert_eq!(json["channels"], json!(["scope:workspace:42", "task:task_42"]));
    assert_eq!(json["timestamp"], json!("2025-06-21T10:15:39.000Z"));
}

fn bootstrap(aggregate: Option<TaskAggregate>, cursor: Option<ChangeCursor>) -> TaskLiveMessage {
    TaskLiveMessage::Bootstrap(TaskSubscriptionBootstrap {
        query: SubscriptionQuery {
            filter: TaskFilter {
                channels: vec!["scope:workspace:42".into()],
                states: vec![LifecycleState::Running, LifecycleState::Stale],
                ..TaskFilter::all()
            },
            limit: Some(50),
            recent_steps: Some(25),
            include_aggregate: Some(true),
        },
        snapshots: vec![TaskSnapshot::from_record(&record())],
        steps: BTreeMap::from([("task_42".into(), vec![step()])]),
        aggregate,
        cursor,
        timestamp: ts(10_000),
    })
}

#[test]
fn live_bootstrap_message() {
    let message = bootstrap(Some(aggregate()), Some(ChangeCursor::new("c:17")));
    assert_golden(
        &message,
        json!({
            "type": "bootstrap",
            "query": {
                "channels": ["scope:workspace:42"],
                "states": ["running", "stale"],
                "limit": 50,
                "recentSteps": 25,
                "includeAggregate": true
            },
            "snapshots": [snapshot_json()],
            "steps": {"task_42": [step_json()]},
            "aggregate": aggregate_json(),
            "cursor": "c:17", // ours: where to resume the change feed
            "timestamp": "2025-06-21T10:15:40.000Z"
        }),
    );
}

#[test]
fn live_bootstrap_without_aggregate_or_cursor() {
    let json = serde_json::to_value(bootstrap(None, None)).expect("serializes");
    assert_eq!(json["aggregate"], Value::Null, "the spec's `aggregate: ... | null`");
    assert!(json.get("cursor").is_none(), "no cursor, no key");
}

#[test]
fn live_event_message() {
    let message = TaskLiveMessage::Event { event: lifecycle_event(), timestamp: ts(11_000) };
    assert_golden(
        &message,
        json!({
            "type": "event",
            "event": lifecycle_event_json(),
            "timestamp": "2025-06-21T10:15:41.000Z"
        }),
    );
}

#[test]
fn timestamps_have_three_fraction_digits_in_utc() {
    let snapshot = serde_json::to_value(TaskSnapshot::from_record(&record())).expect("ok");
    let mut stamps = vec![];
    collect_timestamps(&snapshot, &mut stamps);
    assert_eq!(stamps.len(), 14, "every timestamp of the snapshot, progress included");
    for stamp in stamps {
        let bytes = stamp.as_bytes();
        assert_eq!(bytes.len(), 24, "{stamp}");
        assert_eq!((bytes[10], bytes[19], bytes[23]), (b'T', b'.', b'Z'), "{stamp}");
    }
}

fn collect_timestamps(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) if Timestamp::parse(text).is_ok() => out.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| collect_timestamps(item, out)),
        Value::Object(map) => map.values().for_each(|item| collect_timestamps(item, out)),
        _ => {}
    }
}
