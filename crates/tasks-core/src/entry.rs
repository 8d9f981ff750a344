//! [`TaskEventEntry`]: the presentation-friendly row the spec's normalizers produce from host
//! and lifecycle events, for timelines, logs and sockets; with the normalizers and the
//! adapters that forward entries to a sink.
//!
//! The rules follow the spec's package: an entry's type is the lifecycle event name (or
//! `runner_started`, `runner_stopped`, `stale_requeued` for runner events); its level is
//! `success` for a success, `error` for a failure or lost lease, `warn` for a retry, cancel or
//! stale mark, the step's own level for a step, else `info`; its message is a fixed sentence
//! (or the step's message); its metadata gathers what else the event carried, empty values
//! left out.

use serde::{Deserialize, Serialize};

use crate::event::{HostEventType, LifecycleEventName, TaskHostEvent, TaskLifecycleEvent};
use crate::id::{StepId, TaskId};
use crate::record::JsonObject;
use crate::status::LifecycleState;
use crate::step::StepLevel;
use crate::timestamp::Timestamp;

/// The type of an entry: a lifecycle event name, or a runner event.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum TaskEventEntryType {
    Enqueued,
    Claimed,
    Started,
    Progress,
    Step,
    Retried,
    Succeeded,
    Failed,
    Cancelled,
    Stale,
    LeaseLost,
    RunnerStarted,
    RunnerStopped,
    StaleRequeued,
    /// Ours: a lease renewal.
    Heartbeat,
    /// Ours: an error in the runner itself.
    RunnerError,
    /// Ours: a condition the store reported (a long transaction...).
    RunnerWarning,
    /// Ours: a retention pass.
    Retention,
}

impl From<LifecycleEventName> for TaskEventEntryType {
    fn from(name: LifecycleEventName) -> Self {
        use LifecycleEventName as L;
        use TaskEventEntryType as E;
        match name {
            L::Enqueued => E::Enqueued,
            L::Claimed => E::Claimed,
            L::Started => E::Started,
            L::Progress => E::Progress,
            L::Step => E::Step,
            L::Retried => E::Retried,
            L::Succeeded => E::Succeeded,
            L::Failed => E::Failed,
            L::Cancelled => E::Cancelled,
            L::Stale => E::Stale,
            L::LeaseLost => E::LeaseLost,
        }
    }
}

/// A normalized event row, the spec's `TaskEventEntry`.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskEventEntry {
    /// What happened.
    #[serde(rename = "type")]
    pub entry_type: TaskEventEntryType,
    /// How important it is.
    pub level: StepLevel,
    /// One line for people.
    pub message: String,
    /// The step's percent, else the task's, if known.
    pub percent: Option<f64>,
    /// When it happened.
    pub timestamp: Timestamp,
    /// What else the event carried, empty values left out; `null` when nothing is left.
    pub metadata: Option<JsonObject>,
    /// The runner.
    pub runner_id: Option<String>,
    /// The task.
    pub task_id: Option<TaskId>,
    /// The task's kind.
    pub kind: Option<String>,
    /// The task's lifecycle state after the event.
    pub state: Option<LifecycleState>,
    /// The task's channels.
    pub channels: Vec<String>,
    /// The step, for step events.
    pub step_id: Option<StepId>,
}

fn lifecycle_level(event: &TaskLifecycleEvent) -> StepLevel {
    use LifecycleEventName as L;
    match event.event {
        L::Step => event.step.as_ref().map_or(StepLevel::Info, |step| step.level.clone()),
        L::Succeeded => StepLevel::Success,
        L::Failed | L::LeaseLost => StepLevel::Error,
        L::Retried | L::Cancelled | L::Stale => StepLevel::Warn,
        _ => StepLevel::Info,
    }
}

fn lifecycle_message(event: &TaskLifecycleEvent) -> String {
    use LifecycleEventName as L;
    let fixed = match event.event {
        L::Step => {
            return event
                .step
                .as_ref()
                .map(|step| step.message.clone())
                .filter(|message| !message.is_empty())
                .unwrap_or_else(|| "Task step recorded".to_owned());
        }
        L::Enqueued => "Task enqueued",
        L::Claimed => "Task claimed",
        L::Started => "Task started",
        L::Progress => "Task progress updated",
        L::Retried => "Task scheduled for retry",
        L::Succeeded => "Task succeeded",
        L::Failed => "Task failed",
        L::Cancelled => "Task cancelled",
        L::Stale => "Task marked stale",
        L::LeaseLost => "Task lease lost",
    };
    fixed.to_owned()
}

/// Inserts `value` under `key` unless it is null or an empty array.
fn put(metadata: &mut JsonObject, key: &str, value: impl Serialize) {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Null) | Err(_) => {}
        Ok(serde_json::Value::Array(items)) if items.is_empty() => {}
        Ok(value) => {
            metadata.insert(key.to_owned(), value);
        }
    }
}

fn lifecycle_metadata(event: &TaskLifecycleEvent) -> Option<JsonObject> {
    let mut metadata = JsonObject::new();
    let progress = event.snapshot.as_ref().map(|snapshot| &snapshot.progress);
    put(&mut metadata, "channels", &event.channels);
    put(&mut metadata, "disposition", event.disposition);
    put(&mut metadata, "error", &event.error);
    put(&mut metadata, "output", &event.output);
    put(&mut metadata, "progressLabel", progress.and_then(|p| p.label.as_ref()));
    put(&mut metadata, "progressMeta", progress.and_then(|p| p.meta.as_ref()));
    put(&mut metadata, "stepKind", event.step.as_ref().map(|step| &step.kind));
    put(&mut metadata, "stepMeta", event.step.as_ref().and_then(|step| step.meta.as_ref()));
    put(&mut metadata, "supersededTaskIds", &event.superseded_task_ids);
    (!metadata.is_empty()).then_some(metadata)
}

/// Normalizes a lifecycle event into an entry, the spec's `normalizeTaskLifecycleEventEntry`.
pub fn normalize_lifecycle_event_entry(event: &TaskLifecycleEvent) -> TaskEventEntry {
    TaskEventEntry {
        entry_type: event.event.into(),
        level: lifecycle_level(event),
        message: lifecycle_message(event),
        percent: event
            .step
            .as_ref()
            .and_then(|step| step.percent)
            .or_else(|| event.snapshot.as_ref().and_then(|snapshot| snapshot.progress.percent)),
        timestamp: event.timestamp,
        metadata: lifecycle_metadata(event),
        runner_id: event.runner_id.clone(),
        task_id: Some(event.task_id.clone()),
        kind: Some(event.kind.clone()),
        state: event.snapshot.as_ref().map(|snapshot| snapshot.state),
        channels: event.channels.clone(),
        step_id: event.step.as_ref().map(|step| step.id.clone()),
    }
}

/// Normalizes a host event into an entry, the spec's `normalizeTaskHostEventEntry`: a task
/// event goes through its lifecycle event; runner events get an entry of their own.
pub fn normalize_host_event_entry(event: &TaskHostEvent) -> TaskEventEntry {
    if let Some(lifecycle) = event.to_lifecycle() {
        return normalize_lifecycle_event_entry(&lifecycle);
    }
    use HostEventType as H;
    use TaskEventEntryType as E;
    let (entry_type, level, message) = match event.event_type {
        H::RunnerStarted => (E::RunnerStarted, StepLevel::Info, "Task runner started"),
        H::RunnerStopped => (E::RunnerStopped, StepLevel::Info, "Task runner stopped"),
        H::TaskStaleRequeued => (E::StaleRequeued, StepLevel::Warn, "Stale tasks requeued"),
        H::TaskHeartbeat => (E::Heartbeat, StepLevel::Debug, "Task lease renewed"),
        H::RetentionCompleted => (E::Retention, StepLevel::Info, "Retention policy applied"),
        // A runner error, or a task event without the task's id and kind (malformed).
        H::RunnerError => (E::RunnerError, StepLevel::Error, "Task runner error"),
        H::RunnerWarning => (E::RunnerWarning, StepLevel::Warn, "Task store warning"),
        _ => (E::RunnerError, StepLevel::Error, "Task host event without a task"),
    };
    let mut metadata = JsonObject::new();
    put(&mut metadata, "count", event.count);
    put(&mut metadata, "error", &event.error);
    put(&mut metadata, "retention", event.retention);
    put(&mut metadata, "message", &event.message);
    TaskEventEntry {
        entry_type,
        level,
        message: message.to_owned(),
        percent: None,
        timestamp: event.timestamp,
        metadata: (!metadata.is_empty()).then_some(metadata),
        runner_id: event.runner_id.clone(),
        task_id: event.task_id.clone(),
        kind: event.kind.clone(),
        state: event.task.as_ref().map(crate::LifecycleState::of),
        channels: event.task.as_ref().map(|task| task.channels.clone()).unwrap_or_default(),
        step_id: event.step.as_ref().map(|step| step.id.clone()),
    }
}

/// Wraps a sink of entries into a listener of lifecycle events, the spec's
/// `createTaskLifecycleEventAdapter`.
pub fn lifecycle_event_adapter<F>(sink: F) -> impl Fn(&TaskLifecycleEvent) + Send + Sync
where
    F: Fn(TaskEventEntry) + Send + Sync,
{
    move |event| sink(normalize_lifecycle_event_entry(event))
}

/// Wraps a sink of entries into a listener of host events, the spec's
/// `createTaskHostEventAdapter`.
pub fn host_event_adapter<F>(sink: F) -> impl Fn(&TaskHostEvent) + Send + Sync
where
    F: Fn(TaskEventEntry) + Send + Sync,
{
    move |event| sink(normalize_host_event_entry(event))
}
