//! Errors: [`TaskError`] (the error a task finished with, part of the data model),
//! [`InvalidInput`] (bad input, refused before anything is stored), [`TransitionRefusal`]
//! (a state-machine transition that does not apply) and [`StoreError`] (what every
//! [`TaskStore`](crate::TaskStore) method returns).

use serde::{Deserialize, Serialize};

use crate::id::TaskId;
use crate::status::TaskStatus;
use crate::timestamp::Timestamp;

/// The error a task attempt ended with, as stored on the record and shown to people.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskError {
    /// What went wrong, for people.
    pub message: String,
    /// A class name (`TimeoutError`, `LeaseExpired`, a handler's own error type...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A stable machine-readable code (`timeout`, `cancelled`, `unknown_kind`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Where it happened (a backtrace, a panic location), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// Anything else the handler wants to keep with the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl TaskError {
    /// An error with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        TaskError { message: message.into(), name: None, code: None, stack: None, details: None }
    }

    /// Sets the class name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the machine-readable code.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the details.
    #[must_use]
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}

/// Input that is refused before anything is stored. Each variant names the problem.
#[derive(Clone, PartialEq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidInput {
    /// A task kind is empty, too long, or holds characters outside `A-Z a-z 0-9 _ - . : /`.
    #[error("invalid task kind {kind:?}: {reason}")]
    Kind {
        /// The kind (cut to 64 characters).
        kind: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A caller-chosen task id is not valid.
    #[error("invalid task id {id:?}: use 1 to 128 characters from A-Z a-z 0-9 _ - . :")]
    TaskId {
        /// The id (cut to 64 characters).
        id: String,
    },
    /// A JSON document (input, output, metadata, meta) is larger than allowed.
    #[error("{field} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Which document.
        field: &'static str,
        /// Its serialized size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A JSON document is nested deeper than allowed.
    #[error("{field} is nested deeper than {limit} levels")]
    TooDeep {
        /// Which document.
        field: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A channel name is not valid.
    #[error("invalid channel {channel:?}: {reason}")]
    Channel {
        /// The channel (cut to 64 characters).
        channel: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A task carries more channels than allowed.
    #[error("{count} channels given, at most {limit} allowed")]
    TooManyChannels {
        /// How many were given.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A dedupe, concurrency or supersede key is empty or too long.
    #[error("invalid {field}: {reason}")]
    Key {
        /// Which key (`dedupeKey`, `concurrencyKey`, `supersedeKey`).
        field: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A text field (label, step message, runner id, reason) is too long or empty.
    #[error("invalid {field}: {reason}")]
    Text {
        /// Which field.
        field: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A percent is not a finite number between 0 and 100.
    #[error("percent must be a finite number from 0 to 100, got {value}")]
    Percent {
        /// The value given.
        value: f64,
    },
    /// A number option is out of its range.
    #[error("{field} must be {expected}")]
    Range {
        /// Which option.
        field: &'static str,
        /// The accepted range, for people.
        expected: &'static str,
    },
    /// `supersedeExisting` was set without a `supersedeKey`.
    #[error("supersedeExisting needs a supersedeKey")]
    SupersedeWithoutKey,
    /// Both `scheduledAt` and `delay` were given.
    #[error("give scheduledAt or delay, not both")]
    ScheduleConflict,
    /// The same caller-chosen id appears twice in one batch, or already exists.
    #[error("task id {id} already exists")]
    DuplicateId {
        /// The id.
        id: TaskId,
    },
}

/// Why a state-machine transition does not apply to a record. Nothing is changed.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransitionRefusal {
    /// A worker-side write presented a token that is not the current lease, the lease has
    /// expired, or the task is no longer claimed or running.
    #[error("the lease is lost")]
    LeaseLost,
    /// The task's status does not allow this operation.
    #[error("cannot {operation} a task that is {status:?}")]
    WrongStatus {
        /// The operation attempted.
        operation: &'static str,
        /// The task's status.
        status: TaskStatus,
    },
    /// The task is not due yet.
    #[error("the task is not due until {scheduled_at}")]
    NotDue {
        /// When it becomes due.
        scheduled_at: Timestamp,
    },
    /// The lease has not expired yet.
    #[error("the lease runs until {lease_expires_at:?}")]
    LeaseNotExpired {
        /// When it expires.
        lease_expires_at: Option<Timestamp>,
    },
    /// The task reported recently, or is already marked stale.
    #[error("the task is not silent long enough to be stale, or already stale")]
    NotSilent,
    /// Running the task again would make two open tasks of one kind share a dedupe key: the
    /// key is held by another open task.
    #[error("its dedupe key {key:?} is held by open task {holder}")]
    DedupeKeyHeld {
        /// The dedupe key.
        key: String,
        /// The open task that holds it.
        holder: TaskId,
    },
}

/// What kind of failure a [`StoreError`] is; tests and callers match on this.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// Bad input, refused before anything was stored.
    InvalidInput,
    /// No task with that id.
    NotFound,
    /// A worker-side write whose lease is no longer valid.
    LeaseLost,
    /// A transition that does not apply in the task's current state.
    Refused,
    /// The store does not offer this operation (see [`Capabilities`](crate::Capabilities)).
    Unsupported,
    /// A change-feed cursor older than what the store keeps: read a fresh bootstrap.
    CursorExpired,
    /// The store cannot be reached or failed to answer (network, disk, server down).
    Unavailable,
    /// The store's schema is missing, newer than this code, or not ours.
    Schema,
    /// Anything else the backend reported.
    Backend,
}

/// The error of every [`TaskStore`](crate::TaskStore) method.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Bad input, refused; nothing was stored or changed.
    #[error(transparent)]
    InvalidInput(#[from] InvalidInput),
    /// No task with that id.
    #[error("task {id} not found")]
    NotFound {
        /// The id looked for.
        id: TaskId,
    },
    /// A worker-side write presented a lease that is no longer valid; nothing was changed.
    #[error("lease lost for task {id}")]
    LeaseLost {
        /// The task.
        id: TaskId,
    },
    /// A transition that does not apply in the task's current state; nothing was changed.
    #[error("task {id}: {refusal}")]
    Refused {
        /// The task.
        id: TaskId,
        /// Why.
        refusal: TransitionRefusal,
    },
    /// The store does not offer this operation.
    #[error("this store does not support {operation}")]
    Unsupported {
        /// The operation.
        operation: &'static str,
    },
    /// The change-feed cursor is older than what the store keeps.
    #[error("change cursor {cursor} has expired; read a fresh bootstrap")]
    CursorExpired {
        /// The cursor given.
        cursor: String,
    },
    /// The store cannot be reached or failed to answer.
    #[error("store unavailable: {message}")]
    Unavailable {
        /// What failed, for people (never holding a password).
        message: String,
        /// The backend's own error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The schema is missing, newer than this code, or not ours.
    #[error("schema problem: {message}")]
    Schema {
        /// What is wrong.
        message: String,
    },
    /// Anything else the backend reported.
    #[error("store error: {message}")]
    Backend {
        /// What failed.
        message: String,
        /// The backend's own error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl StoreError {
    /// The kind of this error.
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::InvalidInput(_) => StoreErrorKind::InvalidInput,
            StoreError::NotFound { .. } => StoreErrorKind::NotFound,
            StoreError::LeaseLost { .. } => StoreErrorKind::LeaseLost,
            StoreError::Refused { .. } => StoreErrorKind::Refused,
            StoreError::Unsupported { .. } => StoreErrorKind::Unsupported,
            StoreError::CursorExpired { .. } => StoreErrorKind::CursorExpired,
            StoreError::Unavailable { .. } => StoreErrorKind::Unavailable,
            StoreError::Schema { .. } => StoreErrorKind::Schema,
            StoreError::Backend { .. } => StoreErrorKind::Backend,
        }
    }

    /// Turns a transition refusal on task `id` into the store error callers see:
    /// [`TransitionRefusal::LeaseLost`] becomes [`StoreError::LeaseLost`], the rest
    /// [`StoreError::Refused`].
    pub fn refused(id: &TaskId, refusal: TransitionRefusal) -> Self {
        match refusal {
            TransitionRefusal::LeaseLost => StoreError::LeaseLost { id: id.clone() },
            refusal => StoreError::Refused { id: id.clone(), refusal },
        }
    }

    /// A backend error with the backend's own error as source.
    pub fn backend(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Backend { message: message.into(), source: Some(Box::new(source)) }
    }

    /// An unavailable-store error with the backend's own error as source.
    pub fn unavailable(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Unavailable { message: message.into(), source: Some(Box::new(source)) }
    }

    /// A copy of this error for one more caller, when one store answer goes to several (a
    /// batch that failed as a whole): the same variant and fields, the backend's own `source`
    /// left out (it cannot be cloned).
    #[must_use]
    pub fn duplicate(&self) -> StoreError {
        // No catch-all: a new variant must say here how it is copied.
        match self {
            StoreError::InvalidInput(invalid) => StoreError::InvalidInput(invalid.clone()),
            StoreError::NotFound { id } => StoreError::NotFound { id: id.clone() },
            StoreError::LeaseLost { id } => StoreError::LeaseLost { id: id.clone() },
            StoreError::Refused { id, refusal } => {
                StoreError::Refused { id: id.clone(), refusal: refusal.clone() }
            }
            StoreError::Unsupported { operation } => StoreError::Unsupported { operation },
            StoreError::CursorExpired { cursor } => {
                StoreError::CursorExpired { cursor: cursor.clone() }
            }
            StoreError::Unavailable { message, .. } => {
                StoreError::Unavailable { message: message.clone(), source: None }
            }
            StoreError::Schema { message } => StoreError::Schema { message: message.clone() },
            StoreError::Backend { message, .. } => {
                StoreError::Backend { message: message.clone(), source: None }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copied_errors_keep_their_kind_and_text() {
        let id = TaskId::generate();
        let originals = [
            StoreError::LeaseLost { id: id.clone() },
            StoreError::NotFound { id },
            StoreError::Unavailable {
                message: "connection refused".into(),
                source: Some("io".into()),
            },
            StoreError::Backend { message: "disk full".into(), source: None },
            StoreError::Unsupported { operation: "finish_batch" },
        ];
        for original in &originals {
            let copy = original.duplicate();
            assert_eq!(copy.kind(), original.kind());
            assert_eq!(copy.to_string(), original.to_string());
        }
    }
}
