//! [`Finish`]: one final write by the holder of a lease (complete, fail, or acknowledge a
//! cancel), the item of [`TaskStore::finish_batch`](crate::TaskStore::finish_batch).
//!
//! A store that writes many finishes in one transaction validates each with
//! [`Finish::validate`] and applies it with [`Finish::apply`], which call exactly the checks
//! and transitions the single methods (`complete`, `fail`, `acknowledge_cancel`) use, so a
//! finish in a batch ends the task exactly as the single call would.

use serde::{Deserialize, Serialize};

use crate::error::{InvalidInput, TaskError, TransitionRefusal};
use crate::lease::Lease;
use crate::limits;
use crate::record::TaskRecord;
use crate::timestamp::Timestamp;
use crate::transition;

/// One final write by the holder of a lease, for
/// [`TaskStore::finish_batch`](crate::TaskStore::finish_batch).
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Finish {
    /// As [`TaskStore::complete`](crate::TaskStore::complete): the task succeeded.
    Complete {
        /// The lease of the current claim.
        lease: Lease,
        /// The handler's output.
        output: serde_json::Value,
    },
    /// As [`TaskStore::fail`](crate::TaskStore::fail): the attempt failed, retried at
    /// `retry_at` while attempts remain.
    Fail {
        /// The lease of the current claim.
        lease: Lease,
        /// What went wrong.
        error: TaskError,
        /// When to retry; `None` for an error that must not be retried.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_at: Option<Timestamp>,
    },
    /// As [`TaskStore::acknowledge_cancel`](crate::TaskStore::acknowledge_cancel): the worker
    /// stopped on a cancel.
    AcknowledgeCancel {
        /// The lease of the current claim.
        lease: Lease,
        /// Why, for people.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl Finish {
    /// The lease this finish presents.
    pub fn lease(&self) -> &Lease {
        match self {
            Finish::Complete { lease, .. }
            | Finish::Fail { lease, .. }
            | Finish::AcknowledgeCancel { lease, .. } => lease,
        }
    }

    /// The name of the single method this finish stands for (`complete`, `fail`,
    /// `acknowledge_cancel`).
    pub fn operation(&self) -> &'static str {
        match self {
            Finish::Complete { .. } => "complete",
            Finish::Fail { .. } => "fail",
            Finish::AcknowledgeCancel { .. } => "acknowledge_cancel",
        }
    }

    /// Checks the finish's input as the single method does before touching the store: the
    /// output's size and depth, the error's fields, the reason's length.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] naming the field.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        match self {
            Finish::Complete { output, .. } => transition::validate_output(output),
            Finish::Fail { error, .. } => transition::validate_error(error),
            Finish::AcknowledgeCancel { reason, .. } => match reason {
                Some(reason) => limits::validate_text("reason", reason, false),
                None => Ok(()),
            },
        }
    }

    /// Applies the finish's transition ([`transition::complete`], [`transition::fail`] or
    /// [`transition::acknowledge_cancel`]) to `record`, the task of its lease.
    ///
    /// # Errors
    ///
    /// [`TransitionRefusal::LeaseLost`] when the lease is not the task's live lease at `now`.
    pub fn apply(
        &self,
        record: &TaskRecord,
        now: Timestamp,
    ) -> Result<TaskRecord, TransitionRefusal> {
        match self {
            Finish::Complete { lease, output } => {
                transition::complete(record, &lease.token, output.clone(), now)
            }
            Finish::Fail { lease, error, retry_at } => {
                transition::fail(record, &lease.token, error.clone(), *retry_at, now)
            }
            Finish::AcknowledgeCancel { lease, reason } => {
                transition::acknowledge_cancel(record, &lease.token, reason.as_deref(), now)
            }
        }
    }
}
