//! [`InProcessExecutor`]: the [`TaskExecutor`] that runs a [`TaskHandler`] in the host's own
//! process, on the host's async runtime, and [`from_fn`], the same from an async closure.
//!
//! One executor serves one kind: register it with the host under that kind. Cancellation is
//! cooperative (the handler sees [`TaskContext::cancelled`](crate::TaskContext::cancelled));
//! a handler that ignores it is stopped by the host when its grace runs out.

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tasks_core::{BoxFuture, Execution, ExecutionOutcome, TaskExecutor};

use crate::context::TaskContext;
use crate::failure::TaskFailure;
use crate::handler::{FnHandler, TaskHandler, handler_fn};
use crate::run::run_handler;

/// Runs a typed handler in this process.
pub struct InProcessExecutor<H> {
    handler: Arc<H>,
}

impl<H: TaskHandler> InProcessExecutor<H> {
    /// An executor running `handler`.
    pub fn new(handler: H) -> Self {
        InProcessExecutor { handler: Arc::new(handler) }
    }

    /// An executor running a handler shared with other owners.
    pub fn from_arc(handler: Arc<H>) -> Self {
        InProcessExecutor { handler }
    }

    /// The handler.
    pub fn handler(&self) -> &Arc<H> {
        &self.handler
    }
}

impl<H> Clone for InProcessExecutor<H> {
    fn clone(&self) -> Self {
        InProcessExecutor { handler: Arc::clone(&self.handler) }
    }
}

impl<H: TaskHandler> TaskExecutor for InProcessExecutor<H> {
    fn execute(&self, execution: Execution) -> BoxFuture<'static, ExecutionOutcome> {
        let handler = Arc::clone(&self.handler);
        Box::pin(async move { run_handler(&*handler, execution).await })
    }
}

/// An in-process executor from an async closure: `from_fn(|input: T, ctx| async move { .. })`.
pub fn from_fn<I, O, F, Fut>(function: F) -> InProcessExecutor<FnHandler<I, O, F>>
where
    F: Fn(I, TaskContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, TaskFailure>> + Send + 'static,
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
{
    InProcessExecutor::new(handler_fn(function))
}
