//! [`TaskContext`]: what a running handler knows and can do. It tells the task's identity
//! (id, kind, attempt, attempts allowed, metadata, channels, keys), reports progress, steps and
//! signs of life to whoever runs it, and carries the cancellation signal.
//!
//! It is built on `tasks-core`'s [`TaskInvocation`], [`TaskReporter`] and [`CancelSignal`]
//! alone, with nothing tied to an async runtime, so the same handler runs in the host's process
//! or in a child process that reports over a pipe.

use std::fmt;
use std::sync::Arc;

use tasks_core::cancel::Cancelled;
use tasks_core::{
    CancelSignal, JsonObject, NewStep, ProgressUpdate, ReportError, TaskId, TaskInvocation,
    TaskReporter,
};

use crate::failure::TaskFailure;

/// The context of one attempt of one task. Cloning is cheap and shares everything.
#[derive(Clone)]
pub struct TaskContext {
    inner: Arc<Inner>,
}

struct Inner {
    invocation: TaskInvocation,
    reporter: Arc<dyn TaskReporter>,
    cancel: CancelSignal,
}

impl TaskContext {
    /// A context for `invocation`, reporting to `reporter`, stopped by `cancel`.
    ///
    /// Executors build it; the invocation's `input` is not needed here (the handler receives
    /// it decoded) and may be left `null`.
    pub fn new(
        invocation: TaskInvocation,
        reporter: Arc<dyn TaskReporter>,
        cancel: CancelSignal,
    ) -> Self {
        TaskContext { inner: Arc::new(Inner { invocation, reporter, cancel }) }
    }

    /// The task's id.
    pub fn id(&self) -> &TaskId {
        &self.inner.invocation.id
    }

    /// The task's kind.
    pub fn kind(&self) -> &str {
        &self.inner.invocation.kind
    }

    /// The current attempt, 1 for the first.
    pub fn attempt(&self) -> u32 {
        self.inner.invocation.attempt
    }

    /// How many attempts the task is allowed in all.
    pub fn max_attempts(&self) -> u32 {
        self.inner.invocation.max_attempts
    }

    /// Whether this is the last attempt the task gets.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt() >= self.max_attempts()
    }

    /// The metadata set at enqueue.
    pub fn metadata(&self) -> Option<&JsonObject> {
        self.inner.invocation.metadata.as_ref()
    }

    /// The task's channels.
    pub fn channels(&self) -> &[String] {
        &self.inner.invocation.channels
    }

    /// The concurrency key.
    pub fn concurrency_key(&self) -> Option<&str> {
        self.inner.invocation.concurrency_key.as_deref()
    }

    /// The dedupe key.
    pub fn dedupe_key(&self) -> Option<&str> {
        self.inner.invocation.dedupe_key.as_deref()
    }

    /// The supersede key.
    pub fn supersede_key(&self) -> Option<&str> {
        self.inner.invocation.supersede_key.as_deref()
    }

    /// The whole invocation (its `input` may be `null`: the handler received it decoded).
    pub fn invocation(&self) -> &TaskInvocation {
        &self.inner.invocation
    }

    /// Reports progress; fields left `None` keep their value. Does not block: the runner
    /// records it in order and may coalesce close updates (the latest wins).
    ///
    /// # Errors
    ///
    /// [`ReportError::LeaseLost`] when the runner lost the task (stop working),
    /// [`ReportError::Invalid`] for a percent outside 0 to 100 or an oversized label or meta.
    pub fn set_progress(&self, update: ProgressUpdate) -> Result<(), ReportError> {
        self.inner.reporter.set_progress(update)
    }

    /// Appends a step to the task's log. Does not block; steps are never dropped or reordered.
    ///
    /// # Errors
    ///
    /// As [`TaskContext::set_progress`]; an empty message is invalid.
    pub fn append_step(&self, step: NewStep) -> Result<(), ReportError> {
        self.inner.reporter.append_step(step)
    }

    /// Appends an `info` step with this message.
    ///
    /// # Errors
    ///
    /// As [`TaskContext::append_step`].
    pub fn step(&self, message: impl Into<String>) -> Result<(), ReportError> {
        self.append_step(NewStep::info(message))
    }

    /// Signals life (the runner also renews the lease on its own timer).
    ///
    /// # Errors
    ///
    /// As [`TaskContext::set_progress`].
    pub fn heartbeat(&self) -> Result<(), ReportError> {
        self.inner.reporter.heartbeat()
    }

    /// The cancellation signal: fires on a cancel request, a timeout, a lost lease or a
    /// stopping runner. A handler that ignores it is still stopped once its grace runs out.
    pub fn cancel_signal(&self) -> &CancelSignal {
        &self.inner.cancel
    }

    /// Whether the task must stop.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// A future that resolves once the task must stop (for `select!`).
    pub fn cancelled(&self) -> Cancelled {
        self.inner.cancel.cancelled()
    }

    /// `Err(TaskFailure::cancelled(..))` once the task must stop, for `?` between units of
    /// work.
    ///
    /// # Errors
    ///
    /// A cancelled [`TaskFailure`] carrying the signal's reason.
    pub fn check_cancelled(&self) -> Result<(), TaskFailure> {
        if self.is_cancelled() {
            let reason = self.inner.cancel.reason().unwrap_or_else(|| "cancelled".to_owned());
            return Err(TaskFailure::cancelled(reason));
        }
        Ok(())
    }
}

impl fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("id", self.id())
            .field("kind", &self.kind())
            .field("attempt", &self.attempt())
            .field("max_attempts", &self.max_attempts())
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}
