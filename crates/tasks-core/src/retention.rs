//! Retention: [`RetentionPolicy`] (what to delete) and [`RetentionReport`] (what was).
//!
//! The rules every store applies in `compact`:
//! - a finished task is deleted when its outcome's TTL has passed since `finishedAt`
//!   (`successTtlMs` for succeeded, `failedTtlMs` for failed, `cancelledTtlMs` for cancelled);
//! - with `keepLatestSuccessesPerKind` (or `...Failures...`), only the N most recently
//!   finished succeeded (or failed) tasks of each kind are kept, whatever their age;
//! - with `stepLimitPerTask`, each remaining task keeps only its N most recent steps (`seq`
//!   numbers are never reused, so replay cursors stay valid); the report counts those tasks
//!   as `compactedTasks`;
//! - open tasks are never deleted; a deleted task's steps go with it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::record::TaskRecord;
use crate::status::TaskStatus;
use crate::timestamp::Timestamp;

/// What `compact` deletes. Every field is optional; an empty policy deletes nothing.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RetentionPolicy {
    /// Delete succeeded tasks this long after they finished.
    #[serde(rename = "successTtlMs", with = "crate::serde_ms::optional")]
    pub success_ttl: Option<Duration>,
    /// Delete failed tasks this long after they finished.
    #[serde(rename = "failedTtlMs", with = "crate::serde_ms::optional")]
    pub failed_ttl: Option<Duration>,
    /// Delete cancelled tasks this long after they finished.
    #[serde(rename = "cancelledTtlMs", with = "crate::serde_ms::optional")]
    pub cancelled_ttl: Option<Duration>,
    /// Keep at most this many steps per task, the most recent.
    pub step_limit_per_task: Option<u32>,
    /// Keep at most this many succeeded tasks per kind, the most recently finished.
    pub keep_latest_successes_per_kind: Option<u32>,
    /// Keep at most this many failed tasks per kind, the most recently finished.
    pub keep_latest_failures_per_kind: Option<u32>,
}

impl RetentionPolicy {
    /// Whether the TTL of `record`'s outcome has passed at `now`. Open tasks never expire.
    pub fn ttl_expired(&self, record: &TaskRecord, now: Timestamp) -> bool {
        let ttl = match record.status {
            TaskStatus::Succeeded => self.success_ttl,
            TaskStatus::Failed => self.failed_ttl,
            TaskStatus::Cancelled => self.cancelled_ttl,
            _ => None,
        };
        match (ttl, record.finished_at) {
            (Some(ttl), Some(finished_at)) => finished_at.saturating_add(ttl) <= now,
            _ => false,
        }
    }

    /// The keep-latest limit that applies to tasks of `status`, if any.
    pub fn keep_latest(&self, status: TaskStatus) -> Option<u32> {
        match status {
            TaskStatus::Succeeded => self.keep_latest_successes_per_kind,
            TaskStatus::Failed => self.keep_latest_failures_per_kind,
            _ => None,
        }
    }

    /// Whether the policy deletes nothing.
    pub fn is_empty(&self) -> bool {
        *self == RetentionPolicy::default()
    }
}

/// What a `compact` deleted.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionReport {
    /// Tasks deleted (with their steps).
    pub deleted_tasks: u64,
    /// Steps deleted from tasks that remain.
    pub deleted_steps: u64,
    /// Tasks that remain but lost steps to the step limit.
    pub compacted_tasks: u64,
}
