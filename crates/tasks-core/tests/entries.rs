//! Event plumbing: the host-event → lifecycle-event mapping (`TaskHostEvent::lifecycle_name`,
//! `to_lifecycle`), and the spec's `TaskEventEntry` normalizers and adapters (type, level,
//! message, percent, state, channels, stepId, metadata).

mod common;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use common::*;
use serde_json::json;
use tasks_core::transition;
use tasks_core::{
    EnqueueOptions, HostEventType, LifecycleEventName, LifecycleState, NewStep, ProgressUpdate,
    RetentionReport, StepLevel, StepRecord, TaskError, TaskEventEntry, TaskEventEntryType,
    TaskHostEvent, TaskLifecycleEvent, TaskSnapshot, host_event_adapter, lifecycle_event_adapter,
    normalize_host_event_entry, normalize_lifecycle_event_entry,
};

/// A running task on two channels with progress 40% "encoding", and one warn step at 25%.
fn running_with_progress() -> (TaskSnapshot, StepRecord) {
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
    (TaskSnapshot::from_record(&record), step)
}

fn lifecycle(name: LifecycleEventName, snapshot: &TaskSnapshot) -> TaskLifecycleEvent {
    TaskLifecycleEvent::of(name, snapshot.clone(), at_secs(5))
}

#[test]
fn a_step_event_becomes_the_step_row() {
    let (snapshot, step) = running_with_progress();
    let event = lifecycle(LifecycleEventName::Step, &snapshot).with_step(step.clone());
    let entry = normalize_lifecycle_event_entry(&event);
    assert_eq!(entry.entry_type, TaskEventEntryType::Step);
    assert_eq!(entry.level, StepLevel::Warn, "a step row has the step's level");
    assert_eq!(entry.message, step.message);
    assert_eq!(entry.percent, Some(25.0), "the step's percent wins over the task's");
    assert_eq!(entry.metadata, step.meta);
    assert_eq!(entry.step_id, Some(step.id));
    assert_eq!(entry.task_id, Some(snapshot.id.clone()));
    assert_eq!(entry.kind.as_deref(), Some(KIND));
    assert_eq!(entry.state, Some(LifecycleState::Running));
    assert_eq!(entry.channels, vec!["scope:a", "topic:b"]);
    assert_eq!(entry.runner_id.as_deref(), Some(RUNNER));
    assert_eq!(entry.timestamp, at_secs(5));
}

#[test]
fn a_step_without_percent_shows_the_task_percent() {
    let (snapshot, mut step) = running_with_progress();
    step.percent = None;
    let event = lifecycle(LifecycleEventName::Step, &snapshot).with_step(step);
    assert_eq!(normalize_lifecycle_event_entry(&event).percent, Some(40.0));
}

#[test]
fn a_progress_event_shows_label_percent_and_meta() {
    let (snapshot, _) = running_with_progress();
    let entry =
        normalize_lifecycle_event_entry(&lifecycle(LifecycleEventName::Progress, &snapshot));
    assert_eq!(entry.entry_type, TaskEventEntryType::Progress);
    assert_eq!(entry.level, StepLevel::Info);
    assert_eq!(entry.percent, Some(40.0));
    assert_eq!(entry.metadata, Some(object(json!({"f": 7}))));
    assert!(
        entry.message.contains("encoding") && entry.message.contains("40"),
        "{}",
        entry.message
    );
    assert_eq!(entry.step_id, None);
}

#[test]
fn each_lifecycle_event_has_its_level_and_type() {
    use LifecycleEventName as L;
    let (snapshot, _) = running_with_progress();
    let expected = [
        (L::Enqueued, StepLevel::Info),
        (L::Claimed, StepLevel::Info),
        (L::Started, StepLevel::Info),
        (L::Progress, StepLevel::Info),
        (L::Step, StepLevel::Info),
        (L::Retried, StepLevel::Warn),
        (L::Succeeded, StepLevel::Success),
        (L::Failed, StepLevel::Error),
        (L::Cancelled, StepLevel::Warn),
        (L::Stale, StepLevel::Warn),
        (L::LeaseLost, StepLevel::Error),
    ];
    assert_eq!(expected.len(), L::ALL.len());
    for (name, level) in expected {
        let entry = normalize_lifecycle_event_entry(&lifecycle(name, &snapshot));
        assert_eq!(entry.level, level, "{name:?}");
        let wire = serde_json::to_value(entry.entry_type).expect("serializes");
        assert_eq!(wire, json!(name.as_str()), "the entry type is the event name");
        assert!(entry.message.contains(snapshot.id.as_str()), "{name:?}: {}", entry.message);
    }
}

#[test]
fn failure_and_stale_messages_say_why() {
    let (record, token) = running();
    let failed = transition::fail(&record, &token, TaskError::new("disk full"), None, at_secs(5))
        .expect("fails");
    let entry = normalize_lifecycle_event_entry(&lifecycle(
        LifecycleEventName::Failed,
        &TaskSnapshot::from_record(&failed),
    ));
    assert!(entry.message.contains("disk full"), "{}", entry.message);
    assert_eq!(entry.state, Some(LifecycleState::Failed));

    let stale = transition::mark_stale(&record, Duration::from_secs(1), "runner gone", at_secs(9))
        .expect("silent");
    let entry = normalize_lifecycle_event_entry(&lifecycle(
        LifecycleEventName::Stale,
        &TaskSnapshot::from_record(&stale),
    ));
    assert!(entry.message.contains("runner gone"), "{}", entry.message);
    assert_eq!(entry.state, Some(LifecycleState::Stale));
}

#[test]
fn a_lifecycle_event_without_snapshot_keeps_its_task() {
    let (snapshot, _) = running_with_progress();
    let mut event = lifecycle(LifecycleEventName::LeaseLost, &snapshot);
    event.snapshot = None;
    let entry = normalize_lifecycle_event_entry(&event);
    assert_eq!(entry.task_id, Some(snapshot.id));
    assert_eq!(entry.kind.as_deref(), Some(KIND));
    assert_eq!((entry.state, entry.percent), (None, None));
    assert!(entry.channels.is_empty());
    assert_eq!(entry.level, StepLevel::Error);
}

#[test]
fn host_only_events_get_their_own_types_and_levels() {
    let (snapshot, _) = running_with_progress();
    let cases = [
        (HostEventType::TaskHeartbeat, TaskEventEntryType::Heartbeat, StepLevel::Debug),
        (HostEventType::TaskRecovered, TaskEventEntryType::Recovered, StepLevel::Warn),
        (HostEventType::TaskReleased, TaskEventEntryType::Released, StepLevel::Info),
    ];
    for (host, entry_type, level) in cases {
        let event = TaskHostEvent::task(host, snapshot.clone(), at_secs(6));
        let entry = normalize_host_event_entry(&event);
        assert_eq!((entry.entry_type, entry.level), (entry_type, level), "{host:?}");
        assert_eq!(entry.task_id, Some(snapshot.id.clone()));
        assert_eq!(entry.state, Some(LifecycleState::Running));
        assert_eq!(entry.channels, snapshot.channels);
        assert_eq!(entry.percent, Some(40.0));
    }
}

#[test]
fn runner_events_have_no_task() {
    let cases = [
        (HostEventType::RunnerStarted, TaskEventEntryType::RunnerStarted, StepLevel::Info),
        (HostEventType::RunnerStopped, TaskEventEntryType::RunnerStopped, StepLevel::Info),
        (HostEventType::RunnerError, TaskEventEntryType::RunnerError, StepLevel::Error),
    ];
    for (host, entry_type, level) in cases {
        let mut event = TaskHostEvent::new(host, at_secs(1));
        event.runner_id = Some(RUNNER.into());
        let entry = normalize_host_event_entry(&event);
        assert_eq!((entry.entry_type, entry.level), (entry_type, level), "{host:?}");
        assert_eq!(entry.runner_id.as_deref(), Some(RUNNER));
        assert_eq!(
            (entry.task_id, entry.kind, entry.state, entry.step_id),
            (None, None, None, None)
        );
        assert!(entry.channels.is_empty());
        assert!(!entry.message.is_empty());
        assert_eq!(entry.metadata, None);
    }
}

#[test]
fn host_errors_retention_reports_and_messages_reach_the_entry() {
    let mut event = TaskHostEvent::new(HostEventType::RunnerError, at_secs(1));
    event.error = Some(TaskError::new("store unreachable").with_code("unavailable"));
    event.message = Some("claim loop failed".into());
    let entry = normalize_host_event_entry(&event);
    assert_eq!(entry.message, "claim loop failed", "a host message replaces the default");
    let metadata = entry.metadata.expect("the error is kept as metadata");
    assert_eq!(metadata["error"]["message"], json!("store unreachable"));
    assert_eq!(metadata["error"]["code"], json!("unavailable"));

    let mut event = TaskHostEvent::new(HostEventType::RetentionCompleted, at_secs(1));
    event.retention = Some(RetentionReport { deleted_tasks: 3, deleted_steps: 40 });
    let entry = normalize_host_event_entry(&event);
    assert_eq!(entry.entry_type, TaskEventEntryType::Retention);
    let metadata = entry.metadata.expect("the report is kept as metadata");
    assert_eq!(metadata["retention"], json!({"deletedTasks": 3, "deletedSteps": 40}));
}

#[test]
fn host_task_events_normalize_like_their_lifecycle_events() {
    let (record, token) = running();
    let failed =
        transition::fail(&record, &token, TaskError::new("boom"), None, at_secs(5)).expect("fails");
    let event = TaskHostEvent::task(
        HostEventType::TaskFailed,
        TaskSnapshot::from_record(&failed),
        at_secs(5),
    );
    let entry = normalize_host_event_entry(&event);
    assert_eq!((entry.entry_type, entry.level), (TaskEventEntryType::Failed, StepLevel::Error));
    let metadata = entry.metadata.expect("a failure carries its error");
    assert_eq!(metadata["error"]["message"], json!("boom"));

    let (snapshot, step) = running_with_progress();
    let mut event = TaskHostEvent::task(HostEventType::TaskStep, snapshot, at_secs(6));
    event.step = Some(step.clone());
    let entry = normalize_host_event_entry(&event);
    assert_eq!(entry.entry_type, TaskEventEntryType::Step);
    assert_eq!((entry.level, entry.step_id), (StepLevel::Warn, Some(step.id)));
    assert_eq!(entry.message, step.message);
}

#[test]
fn every_host_event_maps_to_its_lifecycle_name() {
    use HostEventType as H;
    use LifecycleEventName as L;
    let cases = [
        (H::RunnerStarted, None),
        (H::RunnerStopped, None),
        (H::RunnerError, None),
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
        (H::TaskRecovered, Some(L::LeaseLost)),
        (H::TaskReleased, Some(L::Enqueued)),
        (H::RetentionCompleted, None),
    ];
    for (host, name) in cases {
        assert_eq!(TaskHostEvent::new(host, T0).lifecycle_name(), name, "{host:?}");
    }
}

#[test]
fn to_lifecycle_needs_a_name_and_a_snapshot() {
    let (snapshot, step) = running_with_progress();
    assert_eq!(TaskHostEvent::new(HostEventType::TaskClaimed, T0).to_lifecycle(), None);
    let beat = TaskHostEvent::task(HostEventType::TaskHeartbeat, snapshot.clone(), T0);
    assert_eq!(beat.to_lifecycle(), None);

    let mut host = TaskHostEvent::task(HostEventType::TaskStep, snapshot.clone(), at_secs(7));
    host.step = Some(step.clone());
    host.runner_id = Some("runner-b".into());
    let event = host.to_lifecycle().expect("a step event with a snapshot");
    assert_eq!(event.event, LifecycleEventName::Step);
    assert_eq!((event.task_id.clone(), event.kind.as_str()), (snapshot.id.clone(), KIND));
    assert_eq!(event.revision, snapshot.revision);
    assert_eq!(event.runner_id.as_deref(), Some("runner-b"), "the host's runner wins");
    assert_eq!((event.step, event.timestamp), (Some(step), at_secs(7)));
    assert_eq!(event.snapshot, Some(snapshot));
}

#[test]
fn lifecycle_events_take_the_snapshot_identity() {
    let (snapshot, step) = running_with_progress();
    let event = TaskLifecycleEvent::of(LifecycleEventName::Progress, snapshot.clone(), at_secs(8));
    assert_eq!(event.task_id, snapshot.id);
    assert_eq!(event.revision, snapshot.revision);
    assert_eq!(event.runner_id.as_deref(), Some(RUNNER), "the lease owner by default");
    assert_eq!(event.step, None);
    let event = event.with_runner("runner-c").with_step(step.clone());
    assert_eq!((event.runner_id.as_deref(), event.step), (Some("runner-c"), Some(step)));
}

#[test]
fn adapters_forward_normalized_entries() {
    let (snapshot, _) = running_with_progress();
    let seen: Arc<Mutex<Vec<TaskEventEntry>>> = Arc::default();

    let sink = Arc::clone(&seen);
    let on_lifecycle = lifecycle_event_adapter(move |entry| {
        sink.lock().unwrap_or_else(PoisonError::into_inner).push(entry);
    });
    let event = lifecycle(LifecycleEventName::Succeeded, &snapshot);
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
