//! [`TaskEventEntry`]: the presentation-friendly row the spec's normalizers produce from host
//! and lifecycle events, for timelines, logs and sockets; with the normalizers and the
//! adapters that forward entries to a sink.

use serde::{Deserialize, Serialize};

use crate::event::{HostEventType, LifecycleEventName, TaskHostEvent, TaskLifecycleEvent};
use crate::id::{StepId, TaskId};
use crate::record::JsonObject;
use crate::snapshot::TaskSnapshot;
use crate::status::LifecycleState;
use crate::step::{StepLevel, StepRecord};
use crate::timestamp::Timestamp;

/// The type of an entry: a lifecycle event name, or a host-only event.
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
    Heartbeat,
    Recovered,
    Released,
    RunnerStarted,
    RunnerStopped,
    RunnerError,
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
    /// The task's (or step's) percent, if known.
    pub percent: Option<f64>,
    /// When it happened.
    pub timestamp: Timestamp,
    /// Extra details (step meta, progress meta, error, retention figures).
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

fn level_of(entry_type: TaskEventEntryType, step: Option<&StepRecord>) -> StepLevel {
    use TaskEventEntryType as E;
    match entry_type {
        E::Step => step.map_or(StepLevel::Info, |step| step.level.clone()),
        E::Succeeded => StepLevel::Success,
        E::Failed | E::LeaseLost | E::RunnerError => StepLevel::Error,
        E::Retried | E::Stale | E::Recovered | E::Cancelled => StepLevel::Warn,
        E::Heartbeat => StepLevel::Debug,
        _ => StepLevel::Info,
    }
}

fn message_of(
    entry_type: TaskEventEntryType,
    snapshot: Option<&TaskSnapshot>,
    step: Option<&StepRecord>,
) -> String {
    use TaskEventEntryType as E;
    if let Some(step) = step.filter(|_| entry_type == E::Step) {
        return step.message.clone();
    }
    let Some(task) = snapshot else {
        return match entry_type {
            E::RunnerStarted => "runner started".to_owned(),
            E::RunnerStopped => "runner stopped".to_owned(),
            E::RunnerError => "runner error".to_owned(),
            E::Retention => "retention completed".to_owned(),
            _ => "task event".to_owned(),
        };
    };
    let name = format!("task {} ({})", task.id, task.kind);
    let error = task.error.as_ref().map(|error| error.message.as_str()).unwrap_or("no error");
    match entry_type {
        E::Enqueued => format!("{name} enqueued"),
        E::Claimed => format!("{name} claimed, attempt {} of {}", task.attempt, task.max_attempts),
        E::Started => format!("{name} started"),
        E::Progress => match (&task.progress.label, task.progress.percent) {
            (Some(label), Some(percent)) => format!("{name}: {label} ({percent}%)"),
            (Some(label), None) => format!("{name}: {label}"),
            (None, Some(percent)) => format!("{name}: {percent}%"),
            (None, None) => format!("{name} reported progress"),
        },
        E::Retried => format!("{name} failed attempt {}: {error}; retrying", task.attempt),
        E::Succeeded => format!("{name} succeeded"),
        E::Failed => format!("{name} failed: {error}"),
        E::Cancelled => format!("{name} cancelled"),
        E::Stale => format!(
            "{name} is stale: {}",
            task.progress.stale_reason.as_deref().unwrap_or("no sign of life")
        ),
        E::LeaseLost => format!("{name} lost its lease"),
        E::Heartbeat => format!("{name} heartbeat"),
        E::Recovered => format!("{name} recovered after its lease expired"),
        E::Released => format!("{name} released back to the queue"),
        _ => name,
    }
}

fn entry(
    entry_type: TaskEventEntryType,
    snapshot: Option<&TaskSnapshot>,
    step: Option<&StepRecord>,
    runner_id: Option<String>,
    timestamp: Timestamp,
) -> TaskEventEntry {
    let metadata = match (entry_type, step, snapshot) {
        (TaskEventEntryType::Step, Some(step), _) => step.meta.clone(),
        (TaskEventEntryType::Progress, _, Some(task)) => task.progress.meta.clone(),
        _ => None,
    };
    TaskEventEntry {
        entry_type,
        level: level_of(entry_type, step),
        message: message_of(entry_type, snapshot, step),
        percent: step
            .and_then(|step| step.percent)
            .or_else(|| snapshot.and_then(|task| task.progress.percent)),
        timestamp,
        metadata,
        runner_id,
        task_id: snapshot.map(|task| task.id.clone()).or_else(|| step.map(|s| s.task_id.clone())),
        kind: snapshot.map(|task| task.kind.clone()),
        state: snapshot.map(|task| task.state),
        channels: snapshot.map(|task| task.channels.clone()).unwrap_or_default(),
        step_id: step.map(|step| step.id.clone()),
    }
}

/// Normalizes a lifecycle event into an entry, the spec's `normalizeTaskLifecycleEventEntry`.
pub fn normalize_lifecycle_event_entry(event: &TaskLifecycleEvent) -> TaskEventEntry {
    let mut normalized = entry(
        event.event.into(),
        event.snapshot.as_ref(),
        event.step.as_ref(),
        event.runner_id.clone(),
        event.timestamp,
    );
    normalized.task_id = Some(event.task_id.clone());
    normalized.kind = Some(event.kind.clone());
    normalized
}

/// Normalizes a host event into an entry, the spec's `normalizeTaskHostEventEntry`.
pub fn normalize_host_event_entry(event: &TaskHostEvent) -> TaskEventEntry {
    use HostEventType as H;
    use TaskEventEntryType as E;
    let entry_type = match event.event_type {
        H::TaskHeartbeat => E::Heartbeat,
        H::TaskRecovered => E::Recovered,
        H::TaskReleased => E::Released,
        H::RunnerStarted => E::RunnerStarted,
        H::RunnerStopped => E::RunnerStopped,
        H::RunnerError => E::RunnerError,
        H::RetentionCompleted => E::Retention,
        _ => event.lifecycle_name().map_or(E::RunnerError, E::from),
    };
    let mut normalized = entry(
        entry_type,
        event.snapshot.as_ref(),
        event.step.as_ref(),
        event.runner_id.clone(),
        event.timestamp,
    );
    normalized.task_id = event.task_id.clone().or(normalized.task_id);
    normalized.kind = event.kind.clone().or(normalized.kind);
    if let Some(message) = &event.message {
        normalized.message = message.clone();
    }
    let mut metadata = normalized.metadata.take().unwrap_or_default();
    if let Some(error) = &event.error
        && let Ok(value) = serde_json::to_value(error)
    {
        metadata.insert("error".to_owned(), value);
    }
    if let Some(report) = &event.retention
        && let Ok(value) = serde_json::to_value(report)
    {
        metadata.insert("retention".to_owned(), value);
    }
    normalized.metadata = (!metadata.is_empty()).then_some(metadata);
    normalized
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
