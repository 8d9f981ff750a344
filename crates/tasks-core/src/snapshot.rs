//! [`TaskSnapshot`] and [`TaskProgressState`]: a task as a UI sees it, and
//! [`ProgressUpdate`], what a handler reports.
//!
//! A snapshot is derived from a [`TaskRecord`] alone (no clock, no store), so every read path
//! (direct reads, bootstrap, live events) yields the same snapshot for the same record.

use serde::{Deserialize, Serialize};

use crate::error::TaskError;
use crate::id::TaskId;
use crate::record::{JsonObject, TaskRecord};
use crate::status::{LifecycleState, TaskStatus};
use crate::step::StepRecord;
use crate::timestamp::Timestamp;

/// The normalized progress of a task, the spec's `TaskProgressState`.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskProgressState {
    /// The lifecycle state.
    pub state: LifecycleState,
    /// Last reported percent.
    pub percent: Option<f64>,
    /// Last reported label.
    pub label: Option<String>,
    /// Last reported meta.
    pub meta: Option<JsonObject>,
    /// When the current attempt started running.
    pub started_at: Option<Timestamp>,
    /// When the record last changed.
    pub updated_at: Option<Timestamp>,
    /// When the task finished.
    pub finished_at: Option<Timestamp>,
    /// When the task will be retried.
    pub retry_scheduled_at: Option<Timestamp>,
    /// When the watchdog marked it stale.
    pub stale_at: Option<Timestamp>,
    /// Why it is stale.
    pub stale_reason: Option<String>,
    /// The last sign of life of the current attempt.
    pub last_heartbeat_at: Option<Timestamp>,
}

/// A task as a UI sees it: the record without its lease token, plus the lifecycle `state`, the
/// `progress` object and, when asked for, recent steps.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSnapshot {
    /// The task's id (`taskId` on the wire, as in the spec's snapshot).
    pub task_id: TaskId,
    /// Its kind.
    pub kind: String,
    /// The persisted status.
    pub status: TaskStatus,
    /// The lifecycle state (same as `progress.state`).
    pub state: LifecycleState,
    /// The handler's input.
    pub input: serde_json::Value,
    /// The output, once succeeded.
    pub output: Option<serde_json::Value>,
    /// The last error, or why it was cancelled.
    pub error: Option<TaskError>,
    /// Metadata set at enqueue.
    pub metadata: Option<JsonObject>,
    /// Channels.
    pub channels: Vec<String>,
    /// Concurrency key.
    pub concurrency_key: Option<String>,
    /// Dedupe key.
    pub dedupe_key: Option<String>,
    /// Supersede key.
    pub supersede_key: Option<String>,
    /// Current attempt.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Priority (higher first).
    pub priority: i32,
    /// When it becomes (or became) claimable.
    pub scheduled_at: Timestamp,
    /// When it was enqueued.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When the current attempt was claimed.
    pub claimed_at: Option<Timestamp>,
    /// When the current attempt started running (same as `progress.startedAt`).
    pub started_at: Option<Timestamp>,
    /// When the task finished (same as `progress.finishedAt`).
    pub finished_at: Option<Timestamp>,
    /// When a cancel was requested.
    pub cancel_requested_at: Option<Timestamp>,
    /// The runner holding (or that last held) it.
    pub lease_owner: Option<String>,
    /// When the lease runs out.
    pub lease_expires_at: Option<Timestamp>,
    /// The `seq` of its last step.
    pub last_step_seq: u64,
    /// The record's revision: a reader keeps the snapshot with the highest.
    pub revision: u64,
    /// The normalized progress.
    pub progress: TaskProgressState,
    /// Recent steps, oldest first, when the read asked for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepRecord>>,
}

impl TaskSnapshot {
    /// The snapshot of a record, without steps.
    pub fn from_record(record: &TaskRecord) -> Self {
        let state = LifecycleState::of(record);
        TaskSnapshot {
            task_id: record.id.clone(),
            kind: record.kind.clone(),
            status: record.status,
            state,
            input: record.input.clone(),
            output: record.output.clone(),
            error: record.error.clone(),
            metadata: record.metadata.clone(),
            channels: record.channels.clone(),
            concurrency_key: record.concurrency_key.clone(),
            dedupe_key: record.dedupe_key.clone(),
            supersede_key: record.supersede_key.clone(),
            attempt: record.attempt,
            max_attempts: record.max_attempts,
            priority: record.priority,
            scheduled_at: record.scheduled_at,
            created_at: record.created_at,
            updated_at: record.updated_at,
            claimed_at: record.claimed_at,
            started_at: record.started_at,
            finished_at: record.finished_at,
            cancel_requested_at: record.cancel_requested_at,
            lease_owner: record.lease_owner.clone(),
            lease_expires_at: record.lease_expires_at,
            last_step_seq: record.last_step_seq,
            revision: record.revision,
            progress: TaskProgressState {
                state,
                percent: record.progress_percent,
                label: record.progress_label.clone(),
                meta: record.progress_meta.clone(),
                started_at: record.started_at,
                updated_at: Some(record.updated_at),
                finished_at: record.finished_at,
                retry_scheduled_at: record.retry_scheduled_at,
                stale_at: record.stale_at,
                stale_reason: record.stale_reason.clone(),
                last_heartbeat_at: record.last_heartbeat_at,
            },
            steps: None,
        }
    }

    /// The same snapshot carrying these steps.
    #[must_use]
    pub fn with_steps(mut self, steps: Vec<StepRecord>) -> Self {
        self.steps = Some(steps);
        self
    }
}

impl From<&TaskRecord> for TaskSnapshot {
    fn from(record: &TaskRecord) -> Self {
        TaskSnapshot::from_record(record)
    }
}

/// What a handler reports with `set_progress`. A field left `None` keeps its current value.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProgressUpdate {
    /// Percent done, 0 to 100.
    pub percent: Option<f64>,
    /// A short label (`transcoding`).
    pub label: Option<String>,
    /// Structured details.
    pub meta: Option<JsonObject>,
}

impl ProgressUpdate {
    /// An update of the percent only.
    pub fn percent(percent: f64) -> Self {
        ProgressUpdate { percent: Some(percent), ..ProgressUpdate::default() }
    }

    /// The same update with a label.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// The same update with meta.
    #[must_use]
    pub fn meta(mut self, meta: JsonObject) -> Self {
        self.meta = Some(meta);
        self
    }
}
