//! Golden JSON of the data model: the record, snapshot, step, error, aggregate, enqueue
//! outcome, retention report, list queries and both live messages, pinned against the spec's
//! TypeScript shapes (`TaskRecord`, `TaskSnapshot`, `TaskProgressState`, `TaskStepRecord`,
//! `TaskTerminalError`, `TaskAggregateSnapshot`, `TaskCreateResult`, `TaskRetentionResult`,
//! `TaskListQuery`, `TaskSnapshotQuery`, `TaskLiveMessage`). Events and entries are pinned in
//! `golden_events.rs`.
//!
//! Each value is compared whole with `assert_eq!` on `serde_json::Value`, so a renamed, added
//! or missing field fails. Fields that are ours and not the spec's are marked "ours". Each
//! golden is also read back and compared with the value it came from.

mod common;

use std::collections::BTreeMap;

use common::wire::*;
use serde_json::{Value, json};
use tasks_core::{
    ChangeCursor, EnqueueDisposition, EnqueueOutcome, LifecycleState, RetentionReport,
    SnapshotQuery, StepRecord, SubscriptionQuery, TaskAggregate, TaskError, TaskFilter, TaskId,
    TaskListQuery, TaskLiveMessage, TaskOrder, TaskSnapshot, TaskStatus, TaskSubscriptionBootstrap,
    Timestamp,
};

#[test]
fn step_record() {
    assert_golden(&step(), step_json());
}

#[test]
fn step_without_meta_or_percent_writes_nulls() {
    let bare = StepRecord { meta: None, percent: None, ..step() };
    let mut expected = step_json();
    expected["meta"] = Value::Null;
    expected["percent"] = Value::Null;
    assert_golden(&bare, expected);
}

#[test]
fn task_record_keeps_its_lease_token() {
    assert_golden(&record(), record_json());
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
        let mut keys: Vec<String> =
            value.as_object().map(|map| map.keys().cloned().collect()).unwrap_or_default();
        keys.sort();
        keys
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
    assert_eq!(json["taskId"], json!(fresh.id.as_str()));
    assert_eq!(json["state"], json!("queued"));
    assert_eq!(json["progress"]["updatedAt"], json!("2025-06-21T10:15:30.000Z"));
}

#[test]
fn task_error_with_only_a_message_has_only_a_message() {
    // The spec's `TaskTerminalError` has optional (`?`) fields: absent, never null.
    assert_golden(&TaskError::new("boom"), json!({"message": "boom"}));
}

#[test]
fn task_error_with_every_field() {
    assert_golden(&error(), error_json());
}

#[test]
fn task_error_leaves_out_each_absent_field() {
    let cases = [
        (
            TaskError::new("boom").with_name("IoError"),
            json!({"message": "boom", "name": "IoError"}),
        ),
        (TaskError::new("boom").with_code("io"), json!({"message": "boom", "code": "io"})),
        (
            TaskError::new("boom").with_details(json!({"path": "/tmp"})),
            json!({"message": "boom", "details": {"path": "/tmp"}}),
        ),
        (
            TaskError { stack: Some("at main".into()), ..TaskError::new("boom") },
            json!({"message": "boom", "stack": "at main"}),
        ),
    ];
    for (error, expected) in cases {
        assert_golden(&error, expected);
    }
}

#[test]
fn task_error_reads_explicit_nulls_as_absent() {
    let written =
        json!({"message": "boom", "name": null, "code": null, "stack": null, "details": null});
    let error: TaskError = serde_json::from_value(written).expect("reads");
    assert_eq!(error, TaskError::new("boom"));
}

#[test]
fn aggregate_counts() {
    assert_golden(&aggregate(), aggregate_json());
    let empty = serde_json::to_value(TaskAggregate::default()).expect("serializes");
    assert_eq!(empty["updatedAt"], Value::Null);
    assert_eq!(empty["byState"]["stale"], json!(0), "every state is always present");
}

fn superseded_id() -> TaskId {
    TaskId::new("task_41").expect("valid id")
}

#[test]
fn enqueue_outcome_of_a_created_task() {
    let outcome = EnqueueOutcome::created(record(), vec![]);
    assert_eq!(outcome.disposition, EnqueueDisposition::Created);
    assert_golden(
        &outcome,
        json!({
            "task": record_json(),
            "deduplicated": false,
            "disposition": "created",
            "reusedTaskId": null,
            "supersededTaskIds": []
        }),
    );
}

#[test]
fn enqueue_outcome_of_a_task_that_superseded_others() {
    let outcome = EnqueueOutcome::created(record(), vec![superseded_id()]);
    assert_eq!(outcome.disposition, EnqueueDisposition::Superseded);
    assert_golden(
        &outcome,
        json!({
            "task": record_json(),
            "deduplicated": false,
            "disposition": "superseded",
            "reusedTaskId": null,
            "supersededTaskIds": ["task_41"]
        }),
    );
}

#[test]
fn enqueue_outcome_of_a_reused_task_is_deduplicated() {
    let outcome = EnqueueOutcome::reused(record());
    assert_eq!(outcome.disposition, EnqueueDisposition::Reused);
    assert_golden(
        &outcome,
        json!({
            "task": record_json(),
            "deduplicated": true,
            "disposition": "reused",
            "reusedTaskId": "task_42",
            "supersededTaskIds": []
        }),
    );
}

#[test]
fn retention_report_counts_compacted_tasks() {
    let report = RetentionReport { deleted_tasks: 3, deleted_steps: 40, compacted_tasks: 2 };
    assert_golden(&report, json!({"deletedTasks": 3, "deletedSteps": 40, "compactedTasks": 2}));
}

#[test]
fn every_task_order_has_the_spec_order_by_name() {
    let cases = [
        (TaskOrder::CreatedAsc, "created_asc"),
        (TaskOrder::CreatedDesc, "created_desc"),
        (TaskOrder::ScheduledAsc, "scheduled_asc"),
        (TaskOrder::ScheduledDesc, "scheduled_desc"),
        (TaskOrder::UpdatedDesc, "updated_desc"),
    ];
    for (order, name) in cases {
        let query = TaskListQuery::all().order(order);
        assert_golden(&query, json!({"orderBy": name}));
    }
    assert_eq!(TaskOrder::default(), TaskOrder::CreatedDesc, "newest first by default");
}

#[test]
fn list_query_with_filter_page_and_order() {
    let query = TaskListQuery::filtered(TaskFilter {
        kinds: vec!["report.generate".into()],
        statuses: vec![TaskStatus::Queued, TaskStatus::Running],
        channels: vec!["scope:workspace:42".into()],
        dedupe_key: Some("report:rpt_42".into()),
        ..TaskFilter::all()
    })
    .limit(50)
    .offset(100)
    .order(TaskOrder::ScheduledDesc);
    assert_golden(
        &query,
        json!({
            "kinds": ["report.generate"],
            "statuses": ["queued", "running"],
            "channels": ["scope:workspace:42"],
            "dedupeKey": "report:rpt_42",
            "limit": 50,
            "offset": 100,
            "orderBy": "scheduled_desc"
        }),
    );
    let empty: TaskListQuery = serde_json::from_value(json!({})).expect("every field optional");
    assert_eq!(empty, TaskListQuery::all());
}

#[test]
fn snapshot_query_flattens_the_list_query() {
    let query = SnapshotQuery {
        list: TaskListQuery::filtered(TaskFilter {
            states: vec![LifecycleState::Stale],
            ..TaskFilter::all()
        })
        .order(TaskOrder::UpdatedDesc),
        include_steps: Some(5),
    };
    assert_golden(
        &query,
        json!({"states": ["stale"], "orderBy": "updated_desc", "includeSteps": 5}),
    );
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
