//! Events: [`TaskHostEvent`] (the host's low-level events) and [`TaskLifecycleEvent`] (the
//! eleven normalized lifecycle events a UI consumes), and the mapping from the first to the
//! second.

use serde::{Deserialize, Serialize};

use crate::enqueue::EnqueueDisposition;
use crate::error::TaskError;
use crate::id::TaskId;
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

/// A normalized lifecycle event, the spec's `TaskLifecycleEvent`.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskLifecycleEvent {
    /// Which event.
    pub event: LifecycleEventName,
    /// The task.
    pub task_id: TaskId,
    /// Its kind.
    pub kind: String,
    /// The task's revision after the change: a reader ignores events not newer than what it
    /// holds.
    pub revision: u64,
    /// The runner that caused it, when one did.
    pub runner_id: Option<String>,
    /// The task's snapshot after the change.
    pub snapshot: Option<TaskSnapshot>,
    /// The step, for `step` events.
    pub step: Option<StepRecord>,
    /// When it happened.
    pub timestamp: Timestamp,
}

impl TaskLifecycleEvent {
    /// An event about `snapshot`, at `timestamp`.
    pub fn of(event: LifecycleEventName, snapshot: TaskSnapshot, timestamp: Timestamp) -> Self {
        TaskLifecycleEvent {
            event,
            task_id: snapshot.id.clone(),
            kind: snapshot.kind.clone(),
            revision: snapshot.revision,
            runner_id: snapshot.lease_owner.clone(),
            snapshot: Some(snapshot),
            step: None,
            timestamp,
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

/// The type of a host event.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HostEventType {
    /// The runner started.
    RunnerStarted,
    /// The runner stopped.
    RunnerStopped,
    /// Something went wrong in the runner itself (a store error in a loop, say).
    RunnerError,
    /// A task was enqueued.
    TaskEnqueued,
    /// A task was claimed.
    TaskClaimed,
    /// A task's handler started.
    TaskStarted,
    /// A task reported progress.
    TaskProgress,
    /// A task appended a step.
    TaskStep,
    /// A task's lease was renewed.
    TaskHeartbeat,
    /// A task's attempt failed and a retry is scheduled.
    TaskRetried,
    /// A task succeeded.
    TaskSucceeded,
    /// A task failed for good.
    TaskFailed,
    /// A task was cancelled.
    TaskCancelled,
    /// A task was marked stale.
    TaskStale,
    /// This runner lost a task's lease.
    TaskLeaseLost,
    /// A task whose lease expired was recovered.
    TaskRecovered,
    /// A task was given back to the queue by a stopping runner.
    TaskReleased,
    /// Retention ran.
    RetentionCompleted,
}

/// A low-level host event, the spec's host event.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskHostEvent {
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: HostEventType,
    /// The runner.
    pub runner_id: Option<String>,
    /// The task's id, for task events.
    pub task_id: Option<TaskId>,
    /// The task's kind, for task events.
    pub kind: Option<String>,
    /// The task after the change, for task events.
    pub snapshot: Option<TaskSnapshot>,
    /// The step, for step events.
    pub step: Option<StepRecord>,
    /// The error, for failures and runner errors.
    pub error: Option<TaskError>,
    /// The disposition, for enqueues.
    pub disposition: Option<EnqueueDisposition>,
    /// The report, for retention.
    pub retention: Option<RetentionReport>,
    /// A free message.
    pub message: Option<String>,
    /// When it happened.
    pub timestamp: Timestamp,
}

impl TaskHostEvent {
    /// A bare event of `event_type`.
    pub fn new(event_type: HostEventType, timestamp: Timestamp) -> Self {
        TaskHostEvent {
            event_type,
            runner_id: None,
            task_id: None,
            kind: None,
            snapshot: None,
            step: None,
            error: None,
            disposition: None,
            retention: None,
            message: None,
            timestamp,
        }
    }

    /// A task event about `snapshot`.
    pub fn task(event_type: HostEventType, snapshot: TaskSnapshot, timestamp: Timestamp) -> Self {
        TaskHostEvent {
            task_id: Some(snapshot.id.clone()),
            kind: Some(snapshot.kind.clone()),
            error: snapshot.error.clone(),
            snapshot: Some(snapshot),
            ..TaskHostEvent::new(event_type, timestamp)
        }
    }

    /// The lifecycle event name this host event stands for, if any (heartbeats, runner and
    /// retention events have none).
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
            H::TaskLeaseLost | H::TaskRecovered => L::LeaseLost,
            H::RunnerStarted
            | H::RunnerStopped
            | H::RunnerError
            | H::TaskHeartbeat
            | H::RetentionCompleted => return None,
        })
    }

    /// The lifecycle event this host event stands for, when it has a name and a snapshot.
    pub fn to_lifecycle(&self) -> Option<TaskLifecycleEvent> {
        let name = self.lifecycle_name()?;
        let snapshot = self.snapshot.clone()?;
        let mut event = TaskLifecycleEvent::of(name, snapshot, self.timestamp);
        event.runner_id = self.runner_id.clone().or(event.runner_id);
        event.step = self.step.clone();
        Some(event)
    }
}
