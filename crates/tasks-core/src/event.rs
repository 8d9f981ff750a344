//! Events: [`TaskHostEvent`] (the host's low-level events) and [`TaskLifecycleEvent`] (the
//! eleven normalized lifecycle events a UI consumes), and the mapping from the first to the
//! second.

use serde::{Deserialize, Serialize};

use crate::enqueue::EnqueueDisposition;
use crate::error::TaskError;
use crate::id::TaskId;
use crate::record::TaskRecord;
use crate::retention::RetentionReport;
use crate::snapshot::TaskSnapshot;
use crate::step::StepRecord;
use crate::timestamp::Timestamp;

/// The eleven lifecycle event names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleEventName {
    /// A task was enqueued (or queued again after its runner released it).
    Enqueued,
    /// A runner claimed it.
    Claimed,
    /// Its handler started.
    Started,
    /// It reported progress.
    Progress,
    /// It appended a step.
    Step,
    /// An attempt failed and a retry is scheduled.
    Retried,
    /// It succeeded.
    Succeeded,
    /// It failed for good.
    Failed,
    /// It was cancelled.
    Cancelled,
    /// The watchdog marked it stale.
    Stale,
    /// Its runner lost the lease (the runner was fenced off, or died and the task was
    /// recovered).
    LeaseLost,
}

impl LifecycleEventName {
    /// All eleven names.
    pub const ALL: [LifecycleEventName; 11] = [
        LifecycleEventName::Enqueued,
        LifecycleEventName::Claimed,
        LifecycleEventName::Started,
        LifecycleEventName::Progress,
        LifecycleEventName::Step,
        LifecycleEventName::Retried,
        LifecycleEventName::Succeeded,
        LifecycleEventName::Failed,
        LifecycleEventName::Cancelled,
        LifecycleEventName::Stale,
        LifecycleEventName::LeaseLost,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            LifecycleEventName::Enqueued => "enqueued",
            LifecycleEventName::Claimed => "claimed",
            LifecycleEventName::Started => "started",
            LifecycleEventName::Progress => "progress",
            LifecycleEventName::Step => "step",
            LifecycleEventName::Retried => "retried",
            LifecycleEventName::Succeeded => "succeeded",
            LifecycleEventName::Failed => "failed",
            LifecycleEventName::Cancelled => "cancelled",
            LifecycleEventName::Stale => "stale",
            LifecycleEventName::LeaseLost => "lease_lost",
        }
    }
}

/// The constant `type` of a lifecycle event on the wire: `"task.lifecycle"`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub enum LifecycleEventType {
    /// `task.lifecycle`.
    #[default]
    #[serde(rename = "task.lifecycle")]
    TaskLifecycle,
}

/// A normalized lifecycle event, the spec's `TaskLifecycleEvent`.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskLifecycleEvent {
    /// Always `task.lifecycle`.
    #[serde(rename = "type", default)]
    pub event_type: LifecycleEventType,
    /// Which event.
    pub event: LifecycleEventName,
    /// When it happened.
    pub timestamp: Timestamp,
    /// The runner that caused it, when one did.
    pub runner_id: Option<String>,
    /// The task.
    pub task_id: TaskId,
    /// Its kind.
    pub kind: String,
    /// The task's snapshot after the change.
    pub snapshot: Option<TaskSnapshot>,
    /// The step, for `step` events.
    pub step: Option<StepRecord>,
    /// The task's channels.
    pub channels: Vec<String>,
    /// The task's revision after the change: a reader ignores events not newer than what it
    /// holds. (Ours: the spec's event has no revision.)
    pub revision: u64,
    /// For `enqueued`: what the enqueue did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<EnqueueDisposition>,
    /// For `enqueued`: the tasks the new one superseded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_task_ids: Option<Vec<TaskId>>,
    /// For failures and retries: the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    /// For `succeeded`: the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
}

impl TaskLifecycleEvent {
    /// An event about `snapshot`, at `timestamp`. The runner defaults to the lease owner.
    pub fn of(event: LifecycleEventName, snapshot: TaskSnapshot, timestamp: Timestamp) -> Self {
        TaskLifecycleEvent {
            event_type: LifecycleEventType::TaskLifecycle,
            event,
            timestamp,
            runner_id: snapshot.lease_owner.clone(),
            task_id: snapshot.task_id.clone(),
            kind: snapshot.kind.clone(),
            channels: snapshot.channels.clone(),
            revision: snapshot.revision,
            error: match event {
                LifecycleEventName::Failed
                | LifecycleEventName::Retried
                | LifecycleEventName::Cancelled
                | LifecycleEventName::LeaseLost => snapshot.error.clone(),
                _ => None,
            },
            output: match event {
                LifecycleEventName::Succeeded => snapshot.output.clone(),
                _ => None,
            },
            snapshot: Some(snapshot),
            step: None,
            disposition: None,
            superseded_task_ids: None,
        }
    }

    /// The same event carrying a step.
    #[must_use]
    pub fn with_step(mut self, step: StepRecord) -> Self {
        self.step = Some(step);
        self
    }

    /// The same event attributed to a runner.
    #[must_use]
    pub fn with_runner(mut self, runner_id: impl Into<String>) -> Self {
        self.runner_id = Some(runner_id.into());
        self
    }
}

/// The type of a host event, with the spec's wire names (`runner:start`, `task:running`...).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum HostEventType {
    /// The runner started.
    #[serde(rename = "runner:start")]
    RunnerStarted,
    /// The runner stopped.
    #[serde(rename = "runner:stop")]
    RunnerStopped,
    /// Something went wrong in the runner itself (a store error in a loop, say). Ours.
    #[serde(rename = "runner:error")]
    RunnerError,
    /// The store reported a condition that slows it down or puts its promises at risk (see
    /// [`TaskStore::warnings`](crate::TaskStore::warnings)); `message` says what, `error.code`
    /// the warning's code. Ours.
    #[serde(rename = "runner:warning")]
    RunnerWarning,
    /// A task was enqueued.
    #[serde(rename = "task:enqueued")]
    TaskEnqueued,
    /// A task was claimed.
    #[serde(rename = "task:claimed")]
    TaskClaimed,
    /// A task's handler started.
    #[serde(rename = "task:running")]
    TaskStarted,
    /// A task reported progress.
    #[serde(rename = "task:progress")]
    TaskProgress,
    /// A task appended a step.
    #[serde(rename = "task:step")]
    TaskStep,
    /// A task's lease was renewed. Ours.
    #[serde(rename = "task:heartbeat")]
    TaskHeartbeat,
    /// A task's attempt failed and a retry is scheduled.
    #[serde(rename = "task:retry")]
    TaskRetried,
    /// A task succeeded.
    #[serde(rename = "task:succeeded")]
    TaskSucceeded,
    /// A task failed for good.
    #[serde(rename = "task:failed")]
    TaskFailed,
    /// A task was cancelled.
    #[serde(rename = "task:cancelled")]
    TaskCancelled,
    /// A task was marked stale.
    #[serde(rename = "task:stale")]
    TaskStale,
    /// A task's lease was lost: this runner was fenced off, or the task's runner died and the
    /// task was recovered.
    #[serde(rename = "task:lease_lost")]
    TaskLeaseLost,
    /// Tasks whose lease expired were recovered (`count` of them).
    #[serde(rename = "task:stale_requeued")]
    TaskStaleRequeued,
    /// A task was given back to the queue by a stopping runner. Ours.
    #[serde(rename = "task:released")]
    TaskReleased,
    /// Retention ran. Ours.
    #[serde(rename = "retention:completed")]
    RetentionCompleted,
}

/// A low-level host event, the spec's `TaskHostEvent`.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskHostEvent {
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: HostEventType,
    /// When it happened.
    pub timestamp: Timestamp,
    /// The runner.
    pub runner_id: Option<String>,
    /// The task's id, for task events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<TaskId>,
    /// The task's kind, for task events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The task after the change, for task events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskRecord>,
    /// For enqueues: whether an open task was reused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deduplicated: Option<bool>,
    /// For enqueues: what the enqueue did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<EnqueueDisposition>,
    /// For enqueues: the tasks superseded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_task_ids: Option<Vec<TaskId>>,
    /// The step, for step events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepRecord>,
    /// The error, for failures, retries and runner errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    /// The output, for successes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
    /// How many, for `task:stale_requeued`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The report, for retention. Ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionReport>,
    /// A free message (for runner errors). Ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl HostEventType {
    /// Every host event type.
    pub const ALL: [HostEventType; 19] = [
        HostEventType::RunnerStarted,
        HostEventType::RunnerStopped,
        HostEventType::RunnerError,
        HostEventType::RunnerWarning,
        HostEventType::TaskEnqueued,
        HostEventType::TaskClaimed,
        HostEventType::TaskStarted,
        HostEventType::TaskProgress,
        HostEventType::TaskStep,
        HostEventType::TaskHeartbeat,
        HostEventType::TaskRetried,
        HostEventType::TaskSucceeded,
        HostEventType::TaskFailed,
        HostEventType::TaskCancelled,
        HostEventType::TaskStale,
        HostEventType::TaskLeaseLost,
        HostEventType::TaskStaleRequeued,
        HostEventType::TaskReleased,
        HostEventType::RetentionCompleted,
    ];
}

impl TaskHostEvent {
    /// A bare event of `event_type`.
    pub fn new(event_type: HostEventType, timestamp: Timestamp) -> Self {
        TaskHostEvent {
            event_type,
            timestamp,
            runner_id: None,
            task_id: None,
            kind: None,
            task: None,
            deduplicated: None,
            disposition: None,
            superseded_task_ids: None,
            step: None,
            error: None,
            output: None,
            count: None,
            retention: None,
            message: None,
        }
    }

    /// A task event about `task` (its state after the change). Failures and retries carry
    /// the task's error, successes its output.
    pub fn task(event_type: HostEventType, task: TaskRecord, timestamp: Timestamp) -> Self {
        use HostEventType as H;
        let error = match event_type {
            H::TaskFailed | H::TaskRetried | H::TaskCancelled | H::TaskLeaseLost => {
                task.error.clone()
            }
            _ => None,
        };
        let output = match event_type {
            H::TaskSucceeded => task.output.clone(),
            _ => None,
        };
        TaskHostEvent {
            task_id: Some(task.id.clone()),
            kind: Some(task.kind.clone()),
            runner_id: task.lease_owner.clone(),
            error,
            output,
            task: Some(task),
            ..TaskHostEvent::new(event_type, timestamp)
        }
    }

    /// The same event attributed to a runner.
    #[must_use]
    pub fn with_runner(mut self, runner_id: impl Into<String>) -> Self {
        self.runner_id = Some(runner_id.into());
        self
    }

    /// The lifecycle event name this host event stands for, if any (heartbeats, runner,
    /// requeue-count and retention events have none).
    pub fn lifecycle_name(&self) -> Option<LifecycleEventName> {
        use HostEventType as H;
        use LifecycleEventName as L;
        Some(match self.event_type {
            H::TaskEnqueued | H::TaskReleased => L::Enqueued,
            H::TaskClaimed => L::Claimed,
            H::TaskStarted => L::Started,
            H::TaskProgress => L::Progress,
            H::TaskStep => L::Step,
            H::TaskRetried => L::Retried,
            H::TaskSucceeded => L::Succeeded,
            H::TaskFailed => L::Failed,
            H::TaskCancelled => L::Cancelled,
            H::TaskStale => L::Stale,
            H::TaskLeaseLost => L::LeaseLost,
            H::RunnerStarted
            | H::RunnerStopped
            | H::RunnerError
            | H::RunnerWarning
            | H::TaskHeartbeat
            | H::TaskStaleRequeued
            | H::RetentionCompleted => return None,
        })
    }

    /// The lifecycle event this host event stands for, the spec's host-to-lifecycle
    /// normalization: `None` for events without a lifecycle name or without a task id and
    /// kind. A task event that arrived without its record still maps, with no snapshot.
    pub fn to_lifecycle(&self) -> Option<TaskLifecycleEvent> {
        let name = self.lifecycle_name()?;
        let Some(task) = self.task.as_ref() else {
            return Some(TaskLifecycleEvent {
                event_type: LifecycleEventType::TaskLifecycle,
                event: name,
                timestamp: self.timestamp,
                runner_id: self.runner_id.clone(),
                task_id: self.task_id.clone()?,
                kind: self.kind.clone()?,
                snapshot: None,
                step: self.step.clone(),
                channels: Vec::new(),
                revision: 0,
                disposition: self.disposition,
                superseded_task_ids: self.superseded_task_ids.clone(),
                error: self.error.clone(),
                output: self.output.clone(),
            });
        };
        let mut event =
            TaskLifecycleEvent::of(name, TaskSnapshot::from_record(task), self.timestamp);
        event.runner_id = self.runner_id.clone().or(event.runner_id);
        event.step = self.step.clone();
        event.disposition = self.disposition;
        event.superseded_task_ids = self.superseded_task_ids.clone();
        event.error = self.error.clone().or(event.error);
        event.output = self.output.clone().or(event.output);
        Some(event)
    }
}
