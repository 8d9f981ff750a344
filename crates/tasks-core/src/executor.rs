//! [`TaskExecutor`]: how a kind runs. The host hands an executor an [`Execution`] (the task's
//! [`TaskInvocation`], a [`TaskReporter`] and a [`CancelSignal`]) and awaits an
//! [`ExecutionOutcome`]. Futures are boxed in core's own [`BoxFuture`] alias so core needs no
//! async runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cancel::CancelSignal;
use crate::error::{InvalidInput, TaskError};
use crate::id::TaskId;
use crate::record::{JsonObject, TaskRecord};
use crate::snapshot::ProgressUpdate;
use crate::step::NewStep;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a handler is told about the task it runs; also the JSON document a child process
/// reads on its stdin.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInvocation {
    /// The task's id.
    pub id: TaskId,
    /// Its kind.
    pub kind: String,
    /// The current attempt (1 for the first).
    pub attempt: u32,
    /// Attempts allowed in all.
    pub max_attempts: u32,
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
    /// The input.
    pub input: serde_json::Value,
}

impl From<&TaskRecord> for TaskInvocation {
    fn from(record: &TaskRecord) -> Self {
        TaskInvocation {
            id: record.id.clone(),
            kind: record.kind.clone(),
            attempt: record.attempt,
            max_attempts: record.max_attempts,
            metadata: record.metadata.clone(),
            channels: record.channels.clone(),
            concurrency_key: record.concurrency_key.clone(),
            dedupe_key: record.dedupe_key.clone(),
            supersede_key: record.supersede_key.clone(),
            input: record.input.clone(),
        }
    }
}

/// Why a report from a running task was not taken.
#[derive(Clone, PartialEq, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The runner lost the task's lease: stop working, nothing more will be recorded.
    #[error("the lease on this task is lost")]
    LeaseLost,
    /// The report itself is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// The execution is over; reports are no longer taken.
    #[error("the execution has ended")]
    Closed,
}

/// Where a running task reports. Calls do not block: the host records them in order (progress
/// may be coalesced, steps never are).
pub trait TaskReporter: Send + Sync {
    /// Reports progress.
    ///
    /// # Errors
    ///
    /// [`ReportError`] when the lease is lost, the update invalid, or the execution over.
    fn set_progress(&self, update: ProgressUpdate) -> Result<(), ReportError>;

    /// Appends a step.
    ///
    /// # Errors
    ///
    /// As [`TaskReporter::set_progress`].
    fn append_step(&self, step: NewStep) -> Result<(), ReportError>;

    /// Signals life (the host also heartbeats on its own timer).
    ///
    /// # Errors
    ///
    /// As [`TaskReporter::set_progress`].
    fn heartbeat(&self) -> Result<(), ReportError>;
}

/// One run of one attempt of a task.
#[derive(Clone)]
pub struct Execution {
    /// The task.
    pub invocation: TaskInvocation,
    /// Where it reports.
    pub reporter: Arc<dyn TaskReporter>,
    /// Fires when the task must stop (cancel, timeout, lease lost, host stopping).
    pub cancel: CancelSignal,
}

/// How an execution ended.
#[derive(Clone, PartialEq, Debug)]
#[non_exhaustive]
pub enum ExecutionOutcome {
    /// The handler returned an output.
    Succeeded(serde_json::Value),
    /// The handler failed.
    Failed {
        /// The error.
        error: TaskError,
        /// Whether another attempt may help.
        retryable: bool,
    },
    /// The handler stopped on the cancel signal.
    Cancelled {
        /// Why.
        reason: Option<String>,
    },
}

/// How a kind runs.
pub trait TaskExecutor: Send + Sync {
    /// Runs one attempt. The future must end soon after `execution.cancel` fires.
    fn execute(&self, execution: Execution) -> BoxFuture<'static, ExecutionOutcome>;
}

impl<E: TaskExecutor + ?Sized> TaskExecutor for Arc<E> {
    fn execute(&self, execution: Execution) -> BoxFuture<'static, ExecutionOutcome> {
        (**self).execute(execution)
    }
}

impl<E: TaskExecutor + ?Sized> TaskExecutor for Box<E> {
    fn execute(&self, execution: Execution) -> BoxFuture<'static, ExecutionOutcome> {
        (**self).execute(execution)
    }
}
