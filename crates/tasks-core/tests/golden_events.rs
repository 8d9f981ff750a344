//! Golden JSON of the events: the lifecycle event (`type: "task.lifecycle"`, channels, and the
//! optional disposition, superseded ids, error and output), the host event with the spec's
//! `type` names, and the normalized `TaskEventEntry`, pinned against the spec's TypeScript
//! shapes (`TaskLifecycleEvent`, `TaskHostEvent`, `TaskEventEntry`).
//!
//! Each value is compared whole with `assert_eq!` on `serde_json::Value`, so a renamed, added
//! or missing field fails. Fields that are ours and not the spec's are marked "ours".

mod common;

use std::collections::HashSet;

use common::object;
use common::wire::*;
use serde_json::{Value, json};
use tasks_core::{
    EnqueueDisposition, HostEventType, LifecycleEventName, LifecycleEventType, LifecycleState,
    RetentionReport, StepId, StepLevel, TaskError, TaskEventEntry, TaskEventEntryType,
    TaskHostEvent, TaskId, TaskLifecycleEvent, TaskSnapshot, normalize_host_event_entry,
    normalize_lifecycle_event_entry,
};

fn of(name: LifecycleEventName) -> TaskLifecycleEvent {
    TaskLifecycleEvent::of(name, TaskSnapshot::from_record(&record()), ts(9_000))
}

/// [`lifecycle_event_json`] turned into the document of a `name` event without a step.
fn event_json_without_step(name: &str) -> Value {
    let mut expected = lifecycle_event_json();
    expected["event"] = json!(name);
    expected["step"] = Value::Null;
    expected
}

#[test]
fn lifecycle_step_event_with_snapshot_and_step() {
    assert_golden(&lifecycle_event(), lifecycle_event_json());
}

#[test]
fn lifecycle_failure_events_carry_the_error() {
    for (name, wire) in [
        (LifecycleEventName::Failed, "failed"),
        (LifecycleEventName::Retried, "retried"),
        (LifecycleEventName::Cancelled, "cancelled"),
        (LifecycleEventName::LeaseLost, "lease_lost"),
    ] {
        let mut expected = event_json_without_step(wire);
        expected["error"] = error_json();
        assert_golden(&of(name), expected);
    }
}

#[test]
fn lifecycle_success_event_carries_the_output() {
    let mut expected = event_json_without_step("succeeded");
    expected["output"] = json!({"outputPath": "/tmp/reports/rpt_42.json"});
    assert_golden(&of(LifecycleEventName::Succeeded), expected);
}

#[test]
fn lifecycle_enqueued_event_with_disposition_and_superseded_ids() {
    let mut event = of(LifecycleEventName::Enqueued);
    event.disposition = Some(EnqueueDisposition::Superseded);
    event.superseded_task_ids = Some(vec![TaskId::new("task_41").expect("valid id")]);
    let mut expected = event_json_without_step("enqueued");
    expected["disposition"] = json!("superseded");
    expected["supersededTaskIds"] = json!(["task_41"]);
    assert_golden(&event, expected);
}

#[test]
fn lifecycle_type_is_always_task_lifecycle() {
    for name in LifecycleEventName::ALL {
        let event = of(name);
        assert_eq!(event.event_type, LifecycleEventType::TaskLifecycle);
        let json = serde_json::to_value(&event).expect("serializes");
        assert_eq!(json["type"], json!("task.lifecycle"), "{name:?}");
        assert_eq!(json["event"], json!(name.as_str()), "{name:?}");
        assert_eq!(json["channels"], json!(["scope:workspace:42", "task:task_42"]), "{name:?}");
    }
    let mut without_type = lifecycle_event_json();
    without_type.as_object_mut().expect("an object").remove("type");
    let read: TaskLifecycleEvent = serde_json::from_value(without_type).expect("defaults");
    assert_eq!(read, lifecycle_event(), "a document without `type` reads as task.lifecycle");
    let mut wrong_type = lifecycle_event_json();
    wrong_type["type"] = json!("task.other");
    assert!(serde_json::from_value::<TaskLifecycleEvent>(wrong_type).is_err());
}

/// Every host event type with the spec's wire name (or ours, marked).
const HOST_EVENT_NAMES: [(HostEventType, &str); 19] = [
    (HostEventType::RunnerStarted, "runner:start"),
    (HostEventType::RunnerStopped, "runner:stop"),
    (HostEventType::RunnerError, "runner:error"), // ours
    (HostEventType::RunnerWarning, "runner:warning"), // ours
    (HostEventType::TaskEnqueued, "task:enqueued"),
    (HostEventType::TaskClaimed, "task:claimed"),
    (HostEventType::TaskStarted, "task:running"),
    (HostEventType::TaskProgress, "task:progress"),
    (HostEventType::TaskStep, "task:step"),
    (HostEventType::TaskHeartbeat, "task:heartbeat"), // ours
    (HostEventType::TaskRetried, "task:retry"),
    (HostEventType::TaskSucceeded, "task:succeeded"),
    (HostEventType::TaskFailed, "task:failed"),
    (HostEventType::TaskCancelled, "task:cancelled"),
    (HostEventType::TaskStale, "task:stale"),
    (HostEventType::TaskLeaseLost, "task:lease_lost"),
    (HostEventType::TaskStaleRequeued, "task:stale_requeued"),
    (HostEventType::TaskReleased, "task:released"), // ours
    (HostEventType::RetentionCompleted, "retention:completed"), // ours
];

#[test]
fn every_host_event_type_has_its_wire_name() {
    let mut seen = HashSet::new();
    for (event_type, name) in HOST_EVENT_NAMES {
        assert_golden(&event_type, json!(name));
        assert!(seen.insert(event_type), "{event_type:?} listed twice");
    }
    let names: HashSet<&str> = HOST_EVENT_NAMES.iter().map(|(_, name)| *name).collect();
    assert_eq!(names.len(), HOST_EVENT_NAMES.len(), "no two types share a name");
    assert!(serde_json::from_value::<HostEventType>(json!("task_recovered")).is_err());
}

#[test]
fn host_enqueue_event_carries_the_record_and_the_enqueue_result() {
    let mut event = TaskHostEvent::task(HostEventType::TaskEnqueued, record(), ts(9_000));
    event.deduplicated = Some(false);
    event.disposition = Some(EnqueueDisposition::Superseded);
    event.superseded_task_ids = Some(vec![TaskId::new("task_41").expect("valid id")]);
    assert_golden(
        &event,
        json!({
            "type": "task:enqueued",
            "timestamp": "2025-06-21T10:15:39.000Z",
            "runnerId": "runner-a",
            "taskId": "task_42",
            "kind": "report.generate",
            "task": record_json(),
            "deduplicated": false,
            "disposition": "superseded",
            "supersededTaskIds": ["task_41"]
        }),
    );
}

#[test]
fn host_failure_event_carries_the_error_and_success_event_the_output() {
    let failed = TaskHostEvent::task(HostEventType::TaskFailed, record(), ts(9_000));
    assert_golden(
        &failed,
        json!({
            "type": "task:failed",
            "timestamp": "2025-06-21T10:15:39.000Z",
            "runnerId": "runner-a",
            "taskId": "task_42",
            "kind": "report.generate",
            "task": record_json(),
            "error": error_json()
        }),
    );
    let succeeded = TaskHostEvent::task(HostEventType::TaskSucceeded, record(), ts(9_000));
    assert_golden(
        &succeeded,
        json!({
            "type": "task:succeeded",
            "timestamp": "2025-06-21T10:15:39.000Z",
            "runnerId": "runner-a",
            "taskId": "task_42",
            "kind": "report.generate",
            "task": record_json(),
            "output": {"outputPath": "/tmp/reports/rpt_42.json"}
        }),
    );
}

#[test]
fn host_runner_and_requeue_events() {
    let started =
        TaskHostEvent::new(HostEventType::RunnerStarted, ts(1_000)).with_runner("runner-a");
    assert_golden(
        &started,
        json!({"type": "runner:start", "timestamp": "2025-06-21T10:15:31.000Z", "runnerId": "runner-a"}),
    );
    let mut requeued =
        TaskHostEvent::new(HostEventType::TaskStaleRequeued, ts(2_000)).with_runner("runner-a");
    requeued.count = Some(3);
    assert_golden(
        &requeued,
        json!({
            "type": "task:stale_requeued",
            "timestamp": "2025-06-21T10:15:32.000Z",
            "runnerId": "runner-a",
            "count": 3
        }),
    );
    let mut retention = TaskHostEvent::new(HostEventType::RetentionCompleted, ts(3_000));
    retention.retention =
        Some(RetentionReport { deleted_tasks: 3, deleted_steps: 40, compacted_tasks: 2 });
    assert_golden(
        &retention,
        json!({
            "type": "retention:completed", // ours, as is its `retention` report
            "timestamp": "2025-06-21T10:15:33.000Z",
            "runnerId": null,
            "retention": {"deletedTasks": 3, "deletedSteps": 40, "compactedTasks": 2}
        }),
    );
}

#[test]
fn event_entry() {
    let entry = TaskEventEntry {
        entry_type: TaskEventEntryType::Step,
        level: StepLevel::Success,
        message: "Source downloaded".into(),
        percent: Some(20.0),
        timestamp: ts(9_000),
        metadata: Some(object(json!({"stepKind": "checkpoint", "stepMeta": {"bytes": 1024}}))),
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
            "metadata": {"stepKind": "checkpoint", "stepMeta": {"bytes": 1024}},
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
fn entry_of_a_step_event() {
    assert_golden(
        &normalize_lifecycle_event_entry(&lifecycle_event()),
        json!({
            "type": "step",
            "level": "success",
            "message": "Source downloaded",
            "percent": 20.0,
            "timestamp": "2025-06-21T10:15:39.000Z",
            "metadata": {
                "channels": ["scope:workspace:42", "task:task_42"],
                "progressLabel": "transcoding",
                "progressMeta": {"frame": 1820},
                "stepKind": "checkpoint",
                "stepMeta": {"bytes": 1024}
            },
            "runnerId": "runner-a",
            "taskId": "task_42",
            "kind": "report.generate",
            "state": "stale",
            "channels": ["scope:workspace:42", "task:task_42"],
            "stepId": "step_01"
        }),
    );
}

#[test]
fn entry_of_a_host_failure_event() {
    let event = TaskHostEvent::task(HostEventType::TaskFailed, record(), ts(9_000));
    assert_golden(
        &normalize_host_event_entry(&event),
        json!({
            "type": "failed",
            "level": "error",
            "message": "Task failed",
            "percent": 42.5,
            "timestamp": "2025-06-21T10:15:39.000Z",
            "metadata": {
                "channels": ["scope:workspace:42", "task:task_42"],
                "error": error_json(),
                "progressLabel": "transcoding",
                "progressMeta": {"frame": 1820}
            },
            "runnerId": "runner-a",
            "taskId": "task_42",
            "kind": "report.generate",
            "state": "stale",
            "channels": ["scope:workspace:42", "task:task_42"],
            "stepId": null
        }),
    );
}

#[test]
fn entry_of_a_stale_requeue_counts_the_tasks() {
    let mut event =
        TaskHostEvent::new(HostEventType::TaskStaleRequeued, ts(2_000)).with_runner("runner-a");
    event.count = Some(3);
    assert_golden(
        &normalize_host_event_entry(&event),
        json!({
            "type": "stale_requeued",
            "level": "warn",
            "message": "Stale tasks requeued",
            "percent": null,
            "timestamp": "2025-06-21T10:15:32.000Z",
            "metadata": {"count": 3},
            "runnerId": "runner-a",
            "taskId": null,
            "kind": null,
            "state": null,
            "channels": [],
            "stepId": null
        }),
    );
}

#[test]
fn entry_of_a_runner_start_has_null_metadata() {
    let event = TaskHostEvent::new(HostEventType::RunnerStarted, ts(1_000)).with_runner("runner-a");
    assert_golden(
        &normalize_host_event_entry(&event),
        json!({
            "type": "runner_started",
            "level": "info",
            "message": "Task runner started",
            "percent": null,
            "timestamp": "2025-06-21T10:15:31.000Z",
            "metadata": null,
            "runnerId": "runner-a",
            "taskId": null,
            "kind": null,
            "state": null,
            "channels": [],
            "stepId": null
        }),
    );
}

#[test]
fn entry_error_metadata_leaves_out_absent_error_fields() {
    let mut snapshot = TaskSnapshot::from_record(&record());
    snapshot.error = Some(TaskError::new("disk full"));
    let event = TaskLifecycleEvent::of(LifecycleEventName::Failed, snapshot, ts(9_000));
    let metadata = normalize_lifecycle_event_entry(&event).metadata.expect("metadata");
    assert_eq!(metadata["error"], json!({"message": "disk full"}));
}
