//! Event plumbing: the host-event → lifecycle-event mapping (`TaskHostEvent::task`,
//! `lifecycle_name`, `to_lifecycle`), and the spec's `TaskEventEntry` normalizers and adapters
//! (type, level, fixed message, percent, state, channels, stepId, and metadata with empty
//! values left out). The messages are the spec's fixed texts, part of its wire contract.

mod common;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use common::*;
use serde_json::json;
use tasks_core::transition;
use tasks_core::{
    EnqueueDisposition, EnqueueOptions, HostEventType, LifecycleEventName, LifecycleEventType,
    LifecycleState, NewStep, ProgressUpdate, RetentionReport, StepLevel, StepRecord, TaskError,
    TaskEventEntry, TaskEventEntryType, TaskHostEvent, TaskId, TaskLifecycleEvent, TaskRecord,
    TaskSnapshot, host_event_adapter, lifecycle_event_adapter, normalize_host_event_entry,
    normalize_lifecycle_event_entry,
};

/// A running task on two channels with progress 40% "encoding", and one warn step at 25%.
fn running_with_progress() -> (TaskRecord, StepRecord) {
    let record = queued_with(EnqueueOptions::new().channel("scope:a").channel("topic:b"));
    let (record, token) = claim_at(&record, at_secs(1));
    let record = transition::start(&record, &token, at_secs(2)).expect("starts");
    let update = ProgressUpdate::percent(40.0).label("encoding").meta(object(json!({"f": 7})));
    let record = transition::set_progress(&record, &token, &update, at_secs(3)).expect("sets");
    let step = NewStep::info("disk almost full")
        .level(StepLevel::Warn)
        .percent(25.0)
        .meta(object(json!({"free": "1G"})));
    let (record, steps) =
        transition::append_steps(&record, &token, &[step], at_secs(4)).expect("appends");
    let step = steps.into_iter().next().expect("one step");
    (record, step)
}

fn lifecycle(name: LifecycleEventName, record: &TaskRecord) -> TaskLifecycleEvent {
    TaskLifecycleEvent::of(name, TaskSnapshot::from_record(record), at_secs(5))
}

fn task_ids(ids: &[&str]) -> Vec<TaskId> {
    ids.iter().map(|id| TaskId::new(*id).expect("valid id")).collect()
}

#[test]
fn a_step_event_becomes_the_step_row() {
    let (record, step) = running_with_progress();
    let event = lifecycle(LifecycleEventName::Step, &record).with_step(step.clone());
    let entry = normalize_lifecycle_event_entry(&event);
    assert_eq!(entry.entry_type, TaskEventEntryType::Step);
    assert_eq!(entry.level, StepLevel::Warn, "a step row has the step's level");
    assert_eq!(entry.message, "disk almost full", "a step row has the step's message");
    assert_eq!(entry.percent, Some(25.0), "the step's percent wins over the task's");
    let expected = object(json!({
        "channels": ["scope:a", "topic:b"],
        "progressLabel": "encoding",
        "progressMeta": {"f": 7},
        "stepKind": "step",
        "stepMeta": {"free": "1G"}
    }));
    assert_eq!(entry.metadata, Some(expected));
    assert_eq!(entry.step_id, Some(step.id));
    assert_eq!(entry.task_id, Some(record.id.clone()));
    assert_eq!(entry.kind.as_deref(), Some(KIND));
    assert_eq!(entry.state, Some(LifecycleState::Running));
    assert_eq!(entry.channels, vec!["scope:a", "topic:b"]);
    assert_eq!(entry.runner_id.as_deref(), Some(RUNNER));
    assert_eq!(entry.timestamp, at_secs(5));
}

#[test]
fn a_step_without_percent_shows_the_task_percent() {
    let (record, mut step) = running_with_progress();
    step.percent = None;
    let event = lifecycle(LifecycleEventName::Step, &record).with_step(step);
    assert_eq!(normalize_lifecycle_event_entry(&event).percent, Some(40.0));
}

#[test]
fn a_step_without_message_or_step_is_a_recorded_step() {
    let (record, mut step) = running_with_progress();
    step.message = String::new();
    let event = lifecycle(LifecycleEventName::Step, &record).with_step(step);
    assert_eq!(normalize_lifecycle_event_entry(&event).message, "Task step recorded");
    let entry = normalize_lifecycle_event_entry(&lifecycle(LifecycleEventName::Step, &record));
    assert_eq!(entry.message, "Task step recorded");
    assert_eq!((entry.level, entry.step_id), (StepLevel::Info, None));
}

#[test]
fn a_progress_event_keeps_label_and_meta_as_metadata() {
    let (record, _) = running_with_progress();
    let entry = normalize_lifecycle_event_entry(&lifecycle(LifecycleEventName::Progress, &record));
    assert_eq!(entry.entry_type, TaskEventEntryType::Progress);
    assert_eq!(entry.level, StepLevel::Info);
    assert_eq!(entry.message, "Task progress updated");
    assert_eq!(entry.percent, Some(40.0));
    let expected = object(json!({
        "channels": ["scope:a", "topic:b"],
        "progressLabel": "encoding",
        "progressMeta": {"f": 7}
    }));
    assert_eq!(entry.metadata, Some(expected));
    assert_eq!(entry.step_id, None);
}

#[test]
fn each_lifecycle_event_has_its_level_type_and_message() {
    use LifecycleEventName as L;
    let (record, _) = running_with_progress();
    let expected = [
        (L::Enqueued, StepLevel::Info, "Task enqueued"),
        (L::Claimed, StepLevel::Info, "Task claimed"),
        (L::Started, StepLevel::Info, "Task started"),
        (L::Progress, StepLevel::Info, "Task progress updated"),
        (L::Step, StepLevel::Info, "Task step recorded"),
        (L::Retried, StepLevel::Warn, "Task scheduled for retry"),
        (L::Succeeded, StepLevel::Success, "Task succeeded"),
        (L::Failed, StepLevel::Error, "Task failed"),
        (L::Cancelled, StepLevel::Warn, "Task cancelled"),
        (L::Stale, StepLevel::Warn, "Task marked stale"),
        (L::LeaseLost, StepLevel::Error, "Task lease lost"),
    ];
    assert_eq!(expected.len(), L::ALL.len());
    for (name, level, message) in expected {
        let entry = normalize_lifecycle_event_entry(&lifecycle(name, &record));
        assert_eq!(entry.level, level, "{name:?}");
        assert_eq!(entry.message, message, "{name:?}");
        let wire = serde_json::to_value(entry.entry_type).expect("serializes");
        assert_eq!(wire, json!(name.as_str()), "the entry type is the event name");
    }
}

#[test]
fn a_failure_keeps_its_error_as_metadata() {
    let (record, token) = running();
    let error = TaskError::new("disk full").with_code("enospc");
    let failed = transition::fail(&record, &token, error.clone(), None, at_secs(5)).expect("fails");
    let entry = normalize_lifecycle_event_entry(&lifecycle(LifecycleEventName::Failed, &failed));
    assert_eq!(entry.message, "Task failed");
    assert_eq!(entry.state, Some(LifecycleState::Failed));
    let metadata = entry.metadata.expect("a failure carries its error");
    assert_eq!(metadata["error"], json!({"message": "disk full", "code": "enospc"}));
    assert_eq!(metadata.len(), 1, "nothing else is set: {metadata:?}");

    let stale = transition::mark_stale(&record, Duration::from_secs(1), "runner gone", at_secs(9))
        .expect("silent");
    let entry = normalize_lifecycle_event_entry(&lifecycle(LifecycleEventName::Stale, &stale));
    assert_eq!((entry.message.as_str(), entry.level), ("Task marked stale", StepLevel::Warn));
    assert_eq!(entry.state, Some(LifecycleState::Stale));
}

#[test]
fn a_success_keeps_its_output_as_metadata() {
    let (record, token) = running();
    let done =
        transition::complete(&record, &token, json!({"rows": 12}), at_secs(5)).expect("completes");
    let entry = normalize_lifecycle_event_entry(&lifecycle(LifecycleEventName::Succeeded, &done));
    assert_eq!((entry.message.as_str(), entry.level), ("Task succeeded", StepLevel::Success));
    assert_eq!(entry.metadata, Some(object(json!({"output": {"rows": 12}}))));
}

#[test]
fn entry_metadata_leaves_out_nulls_and_empty_lists() {
    // A fresh task: no channels, no progress, no step, no error, no output.
    let mut event = lifecycle(LifecycleEventName::Enqueued, &queued());
    assert!(event.channels.is_empty());
    event.superseded_task_ids = Some(vec![]);
    let entry = normalize_lifecycle_event_entry(&event);
    assert_eq!(entry.metadata, None, "nothing left: null, not an empty object");

    event.disposition = Some(EnqueueDisposition::Created);
    let entry = normalize_lifecycle_event_entry(&event);
    assert_eq!(entry.metadata, Some(object(json!({"disposition": "created"}))));

    event.disposition = Some(EnqueueDisposition::Superseded);
    event.superseded_task_ids = Some(task_ids(&["task_1", "task_2"]));
    let entry = normalize_lifecycle_event_entry(&event);
    let expected = object(json!({
        "disposition": "superseded",
        "supersededTaskIds": ["task_1", "task_2"]
    }));
    assert_eq!(entry.metadata, Some(expected));
}

#[test]
fn a_lifecycle_event_without_snapshot_keeps_its_task_and_channels() {
    let (record, _) = running_with_progress();
    let mut event = lifecycle(LifecycleEventName::LeaseLost, &record);
    event.snapshot = None;
    let entry = normalize_lifecycle_event_entry(&event);
    assert_eq!(entry.task_id, Some(record.id.clone()));
    assert_eq!(entry.kind.as_deref(), Some(KIND));
    assert_eq!((entry.state, entry.percent), (None, None));
    assert_eq!(entry.channels, record.channels, "the event's own channels");
    assert_eq!((entry.level, entry.message.as_str()), (StepLevel::Error, "Task lease lost"));
}

#[test]
fn heartbeats_get_their_own_entry_and_released_tasks_are_enqueued_again() {
    let (record, _) = running_with_progress();
    let beat = TaskHostEvent::task(HostEventType::TaskHeartbeat, record.clone(), at_secs(6));
    let entry = normalize_host_event_entry(&beat);
    assert_eq!((entry.entry_type, entry.level), (TaskEventEntryType::Heartbeat, StepLevel::Debug));
    assert_eq!(entry.message, "Task lease renewed");
    assert_eq!(entry.task_id, Some(record.id.clone()));
    assert_eq!(entry.kind.as_deref(), Some(KIND));
    assert_eq!(entry.state, Some(LifecycleState::Running));
    assert_eq!(entry.channels, record.channels);
    assert_eq!(entry.metadata, None);

    let (released, _) = record_in(tasks_core::TaskStatus::Queued);
    let event = TaskHostEvent::task(HostEventType::TaskReleased, released.clone(), at_secs(6));
    let entry = normalize_host_event_entry(&event);
    assert_eq!((entry.entry_type, entry.level), (TaskEventEntryType::Enqueued, StepLevel::Info));
    assert_eq!(entry.message, "Task enqueued");
    assert_eq!(entry.task_id, Some(released.id));
}

#[test]
fn runner_events_have_no_task() {
    let cases = [
        (HostEventType::RunnerStarted, TaskEventEntryType::RunnerStarted, StepLevel::Info),
        (HostEventType::RunnerStopped, TaskEventEntryType::RunnerStopped, StepLevel::Info),
        (HostEventType::RunnerError, TaskEventEntryType::RunnerError, StepLevel::Error),
        (HostEventType::RunnerWarning, TaskEventEntryType::RunnerWarning, StepLevel::Warn),
    ];
    let messages =
        ["Task runner started", "Task runner stopped", "Task runner error", "Task store warning"];
    for ((host, entry_type, level), message) in cases.into_iter().zip(messages) {
        let event = TaskHostEvent::new(host, at_secs(1)).with_runner(RUNNER);
        let entry = normalize_host_event_entry(&event);
        assert_eq!((entry.entry_type, entry.level), (entry_type, level), "{host:?}");
        assert_eq!(entry.message, message, "{host:?}");
        assert_eq!(entry.runner_id.as_deref(), Some(RUNNER));
        assert_eq!(
            (entry.task_id, entry.kind, entry.state, entry.step_id, entry.percent),
            (None, None, None, None, None)
        );
        assert!(entry.channels.is_empty());
        assert_eq!(entry.metadata, None);
    }
}

#[test]
fn a_stale_requeue_entry_counts_the_requeued_tasks() {
    let mut event = TaskHostEvent::new(HostEventType::TaskStaleRequeued, at_secs(1));
    event.count = Some(4);
    let event = event.with_runner(RUNNER);
    assert_eq!(event.to_lifecycle(), None, "a count is not a task's lifecycle event");
    let entry = normalize_host_event_entry(&event);
    assert_eq!(entry.entry_type, TaskEventEntryType::StaleRequeued);
    assert_eq!((entry.level, entry.message.as_str()), (StepLevel::Warn, "Stale tasks requeued"));
    assert_eq!(entry.metadata, Some(object(json!({"count": 4}))));
    assert_eq!(entry.runner_id.as_deref(), Some(RUNNER));
    assert_eq!((entry.task_id, entry.state), (None, None));
    let wire = serde_json::to_value(entry.entry_type).expect("serializes");
    assert_eq!(wire, json!("stale_requeued"));
}

#[test]
fn host_errors_retention_reports_and_messages_are_metadata() {
    let mut event = TaskHostEvent::new(HostEventType::RunnerError, at_secs(1));
    event.error = Some(TaskError::new("store unreachable").with_code("unavailable"));
    event.message = Some("claim loop failed".into());
    let entry = normalize_host_event_entry(&event);
    assert_eq!(entry.message, "Task runner error", "the entry's message is fixed");
    let expected = object(json!({
        "error": {"message": "store unreachable", "code": "unavailable"},
        "message": "claim loop failed"
    }));
    assert_eq!(entry.metadata, Some(expected));

    let mut event = TaskHostEvent::new(HostEventType::RetentionCompleted, at_secs(1));
    event.retention =
        Some(RetentionReport { deleted_tasks: 3, deleted_steps: 40, compacted_tasks: 2 });
    let entry = normalize_host_event_entry(&event);
    assert_eq!((entry.entry_type, entry.level), (TaskEventEntryType::Retention, StepLevel::Info));
    assert_eq!(entry.message, "Retention policy applied");
    let expected = object(json!({
        "retention": {"deletedTasks": 3, "deletedSteps": 40, "compactedTasks": 2}
    }));
    assert_eq!(entry.metadata, Some(expected));
}

#[test]
fn host_task_events_normalize_like_their_lifecycle_events() {
    let (record, token) = running();
    let failed =
        transition::fail(&record, &token, TaskError::new("boom"), None, at_secs(5)).expect("fails");
    let event = TaskHostEvent::task(HostEventType::TaskFailed, failed, at_secs(5));
    let lifecycle = event.to_lifecycle().expect("a failure with its task");
    assert_eq!(normalize_host_event_entry(&event), normalize_lifecycle_event_entry(&lifecycle));
    let entry = normalize_host_event_entry(&event);
    assert_eq!((entry.entry_type, entry.level), (TaskEventEntryType::Failed, StepLevel::Error));
    let metadata = entry.metadata.expect("a failure carries its error");
    assert_eq!(metadata["error"], json!({"message": "boom"}));

    let (record, step) = running_with_progress();
    let mut event = TaskHostEvent::task(HostEventType::TaskStep, record, at_secs(6));
    event.step = Some(step.clone());
    let entry = normalize_host_event_entry(&event);
    assert_eq!(entry.entry_type, TaskEventEntryType::Step);
    assert_eq!((entry.level, entry.step_id), (StepLevel::Warn, Some(step.id)));
    assert_eq!(entry.message, step.message);
}

#[test]
fn a_host_task_event_takes_error_and_output_from_its_record() {
    use HostEventType as H;
    let mut record = queued();
    record.error = Some(TaskError::new("boom"));
    record.output = Some(json!({"ok": true}));
    for host in [H::TaskFailed, H::TaskRetried, H::TaskCancelled, H::TaskLeaseLost] {
        let event = TaskHostEvent::task(host, record.clone(), T0);
        assert_eq!(event.error, record.error, "{host:?}");
        assert_eq!(event.output, None, "{host:?}");
    }
    let event = TaskHostEvent::task(H::TaskSucceeded, record.clone(), T0);
    assert_eq!((event.error, event.output), (None, record.output.clone()));
    for host in [H::TaskEnqueued, H::TaskClaimed, H::TaskStarted, H::TaskProgress, H::TaskStep] {
        let event = TaskHostEvent::task(host, record.clone(), T0);
        assert_eq!((&event.error, &event.output), (&None, &None), "{host:?}");
        assert_eq!(event.task_id.as_ref(), Some(&record.id));
        assert_eq!(event.kind.as_deref(), Some(KIND));
        assert_eq!(event.task.as_ref(), Some(&record));
    }
}

#[test]
fn every_host_event_maps_to_its_lifecycle_name() {
    use HostEventType as H;
    use LifecycleEventName as L;
    let cases = [
        (H::RunnerStarted, None),
        (H::RunnerStopped, None),
        (H::RunnerError, None),
        (H::RunnerWarning, None),
        (H::TaskEnqueued, Some(L::Enqueued)),
        (H::TaskClaimed, Some(L::Claimed)),
        (H::TaskStarted, Some(L::Started)),
        (H::TaskProgress, Some(L::Progress)),
        (H::TaskStep, Some(L::Step)),
        (H::TaskHeartbeat, None),
        (H::TaskRetried, Some(L::Retried)),
        (H::TaskSucceeded, Some(L::Succeeded)),
        (H::TaskFailed, Some(L::Failed)),
        (H::TaskCancelled, Some(L::Cancelled)),
        (H::TaskStale, Some(L::Stale)),
        (H::TaskLeaseLost, Some(L::LeaseLost)),
        (H::TaskStaleRequeued, None),
        (H::TaskReleased, Some(L::Enqueued)),
        (H::RetentionCompleted, None),
    ];
    for (host, name) in cases {
        assert_eq!(TaskHostEvent::new(host, T0).lifecycle_name(), name, "{host:?}");
    }
}

#[test]
fn to_lifecycle_needs_a_name_and_a_task() {
    let (record, step) = running_with_progress();
    assert_eq!(TaskHostEvent::new(HostEventType::TaskClaimed, T0).to_lifecycle(), None);
    let beat = TaskHostEvent::task(HostEventType::TaskHeartbeat, record.clone(), T0);
    assert_eq!(beat.to_lifecycle(), None);

    let mut host = TaskHostEvent::task(HostEventType::TaskStep, record.clone(), at_secs(7))
        .with_runner("runner-b");
    host.step = Some(step.clone());
    let event = host.to_lifecycle().expect("a step event with a task");
    assert_eq!(event.event_type, LifecycleEventType::TaskLifecycle);
    assert_eq!(event.event, LifecycleEventName::Step);
    assert_eq!((event.task_id.clone(), event.kind.as_str()), (record.id.clone(), KIND));
    assert_eq!(event.revision, record.revision);
    assert_eq!(event.channels, record.channels);
    assert_eq!(event.runner_id.as_deref(), Some("runner-b"), "the host's runner wins");
    assert_eq!((event.step, event.timestamp), (Some(step), at_secs(7)));
    assert_eq!(event.snapshot, Some(TaskSnapshot::from_record(&record)));
    assert_eq!((event.disposition, event.superseded_task_ids), (None, None));
    assert_eq!((event.error, event.output), (None, None));
}

#[test]
fn to_lifecycle_carries_the_enqueue_result() {
    let record = queued_with(EnqueueOptions::new().supersede("scan:repo_7"));
    let mut host = TaskHostEvent::task(HostEventType::TaskEnqueued, record, at_secs(1));
    host.deduplicated = Some(false);
    host.disposition = Some(EnqueueDisposition::Superseded);
    host.superseded_task_ids = Some(task_ids(&["task_1"]));
    let event = host.to_lifecycle().expect("an enqueue with its task");
    assert_eq!(event.event, LifecycleEventName::Enqueued);
    assert_eq!(event.disposition, Some(EnqueueDisposition::Superseded));
    assert_eq!(event.superseded_task_ids, Some(task_ids(&["task_1"])));
    let json = serde_json::to_value(&event).expect("serializes");
    assert_eq!(json["disposition"], json!("superseded"));
    assert_eq!(json["supersededTaskIds"], json!(["task_1"]));
    assert!(json.get("deduplicated").is_none(), "the spec's lifecycle event has no such key");
}

#[test]
fn to_lifecycle_carries_error_and_output() {
    let (record, token) = running();
    let failed =
        transition::fail(&record, &token, TaskError::new("boom"), None, at_secs(5)).expect("fails");
    let host = TaskHostEvent::task(HostEventType::TaskFailed, failed.clone(), at_secs(5));
    let event = host.to_lifecycle().expect("a failure with its task");
    assert_eq!((event.error, event.output), (failed.error, None));

    // An error the host set itself (a runner's view of the failure) wins over the record's.
    let mut host = TaskHostEvent::task(HostEventType::TaskLeaseLost, record.clone(), at_secs(6));
    host.error = Some(TaskError::new("lease expired").with_code("lease_lost"));
    let event = host.to_lifecycle().expect("a lease loss with its task");
    assert_eq!(event.error, host.error);

    let done =
        transition::complete(&record, &token, json!({"rows": 12}), at_secs(5)).expect("completes");
    let host = TaskHostEvent::task(HostEventType::TaskSucceeded, done, at_secs(5));
    let event = host.to_lifecycle().expect("a success with its task");
    assert_eq!((event.error, event.output), (None, Some(json!({"rows": 12}))));
}

#[test]
fn lifecycle_events_take_the_snapshot_identity() {
    let (record, step) = running_with_progress();
    let snapshot = TaskSnapshot::from_record(&record);
    let event = TaskLifecycleEvent::of(LifecycleEventName::Progress, snapshot.clone(), at_secs(8));
    assert_eq!(event.event_type, LifecycleEventType::TaskLifecycle);
    assert_eq!(event.task_id, snapshot.task_id);
    assert_eq!(event.channels, vec!["scope:a", "topic:b"], "the task's channels");
    assert_eq!(event.revision, snapshot.revision);
    assert_eq!(event.runner_id.as_deref(), Some(RUNNER), "the lease owner by default");
    assert_eq!(event.step, None);
    let event = event.with_runner("runner-c").with_step(step.clone());
    assert_eq!((event.runner_id.as_deref(), event.step), (Some("runner-c"), Some(step)));
}

#[test]
fn adapters_forward_normalized_entries() {
    let (record, _) = running_with_progress();
    let seen: Arc<Mutex<Vec<TaskEventEntry>>> = Arc::default();

    let sink = Arc::clone(&seen);
    let on_lifecycle = lifecycle_event_adapter(move |entry| {
        sink.lock().unwrap_or_else(PoisonError::into_inner).push(entry);
    });
    let event = lifecycle(LifecycleEventName::Succeeded, &record);
    on_lifecycle(&event);

    let sink = Arc::clone(&seen);
    let on_host = host_event_adapter(move |entry| {
        sink.lock().unwrap_or_else(PoisonError::into_inner).push(entry);
    });
    let host = TaskHostEvent::new(HostEventType::RunnerStopped, at_secs(9));
    on_host(&host);

    let seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
    assert_eq!(
        *seen,
        vec![normalize_lifecycle_event_entry(&event), normalize_host_event_entry(&host)]
    );
}
