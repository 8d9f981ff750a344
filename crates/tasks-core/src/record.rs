//! [`TaskRecord`]: the durable record of one task, exactly as a store keeps it.
//!
//! People and UIs read [`TaskSnapshot`](crate::TaskSnapshot)s instead, which hide the lease
//! token and add the lifecycle state and the progress object.

use serde::{Deserialize, Serialize};

use crate::error::TaskError;
use crate::id::{LeaseToken, TaskId};
use crate::status::TaskStatus;
use crate::timestamp::Timestamp;

/// A JSON object, as used for metadata and meta fields.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// The durable record of a task.
///
/// Every change of the record, including a step appended to it, raises `revision` by one, so
/// a reader holding two copies keeps the one with the higher revision.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRecord {
    /// The task's id.
    pub id: TaskId,
    /// What the task does; selects the handler.
    pub kind: String,
    /// The persisted status.
    pub status: TaskStatus,
    /// The handler's input.
    pub input: serde_json::Value,
    /// The handler's output, once succeeded.
    pub output: Option<serde_json::Value>,
    /// The error of the last failed attempt, or why the task was cancelled.
    pub error: Option<TaskError>,
    /// Free metadata set at enqueue.
    pub metadata: Option<JsonObject>,
    /// Last reported progress percent (0 to 100).
    pub progress_percent: Option<f64>,
    /// Last reported progress label.
    pub progress_label: Option<String>,
    /// Last reported progress meta.
    pub progress_meta: Option<JsonObject>,
    /// At most one task per concurrency key is claimed or running at a time.
    pub concurrency_key: Option<String>,
    /// While a task of this kind and dedupe key is open, enqueueing another reuses it.
    pub dedupe_key: Option<String>,
    /// Groups tasks that a newer one may supersede.
    pub supersede_key: Option<String>,
    /// Channels for routing subscriptions, normalized.
    pub channels: Vec<String>,
    /// The current attempt: 0 before the first claim, raised by each claim.
    pub attempt: u32,
    /// How many attempts are allowed in all.
    pub max_attempts: u32,
    /// Higher runs first; default 0.
    pub priority: i32,
    /// When the task becomes claimable (its creation, its delay, or its retry time).
    pub scheduled_at: Timestamp,
    /// When the task was enqueued.
    pub created_at: Timestamp,
    /// When the record last changed.
    pub updated_at: Timestamp,
    /// When the current attempt was claimed.
    pub claimed_at: Option<Timestamp>,
    /// When the current attempt started running.
    pub started_at: Option<Timestamp>,
    /// When the task finished for good.
    pub finished_at: Option<Timestamp>,
    /// When a cancel was requested for the claimed or running task.
    pub cancel_requested_at: Option<Timestamp>,
    /// The runner that holds (or last held) the task.
    pub lease_owner: Option<String>,
    /// The fencing token of the current claim.
    pub lease_token: Option<LeaseToken>,
    /// When the current lease runs out unless renewed.
    pub lease_expires_at: Option<Timestamp>,
    /// The last sign of life of the current attempt (claim, start, heartbeat, progress, step).
    pub last_heartbeat_at: Option<Timestamp>,
    /// When a failed task will be retried; set while it waits (lifecycle `retrying`).
    pub retry_scheduled_at: Option<Timestamp>,
    /// When the watchdog marked the task stale; cleared by the next sign of life.
    pub stale_at: Option<Timestamp>,
    /// Why the watchdog marked it stale.
    pub stale_reason: Option<String>,
    /// The `seq` of the task's last step (0 when it has none): the replay cursor's end.
    pub last_step_seq: u64,
    /// Raised by one on every change of the record.
    pub revision: u64,
}

impl TaskRecord {
    /// The lease of the current claim, when the task is claimed or running.
    pub fn lease(&self) -> Option<crate::Lease> {
        match (&self.lease_token, self.status.is_active()) {
            (Some(token), true) => {
                Some(crate::Lease { task_id: self.id.clone(), token: token.clone() })
            }
            _ => None,
        }
    }
}
