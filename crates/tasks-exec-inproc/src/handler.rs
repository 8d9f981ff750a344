//! [`TaskHandler`]: a typed handler (serde input and output), and [`handler_fn`], which makes
//! one from an async closure.
//!
//! The trait's signature names nothing of an async runtime: a handler is an `async fn` from its
//! input and a [`TaskContext`] to its output or a [`TaskFailure`]. That is what lets the same
//! handler run in the host's process ([`InProcessExecutor`](crate::InProcessExecutor)) or in a
//! child process.

use std::future::Future;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::TaskContext;
use crate::failure::TaskFailure;

/// How one kind of task runs, with typed input and output.
///
/// Implement it with an `async fn`:
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use tasks_exec_inproc::{TaskContext, TaskFailure, TaskHandler};
///
/// #[derive(Deserialize)]
/// #[serde(rename_all = "camelCase")]
/// struct Input { report_id: String }
///
/// #[derive(Serialize)]
/// #[serde(rename_all = "camelCase")]
/// struct Output { output_path: String }
///
/// struct GenerateReport;
///
/// impl TaskHandler for GenerateReport {
///     type Input = Input;
///     type Output = Output;
///
///     async fn run(&self, input: Input, ctx: TaskContext) -> Result<Output, TaskFailure> {
///         ctx.step(format!("Preparing report {}", input.report_id))?;
///         Ok(Output { output_path: format!("/tmp/reports/{}.json", input.report_id) })
///     }
/// }
/// ```
pub trait TaskHandler: Send + Sync + 'static {
    /// The input, decoded from the task's JSON input. Input that does not decode fails the
    /// task at once, with an error naming the field.
    type Input: DeserializeOwned + Send + 'static;
    /// The output, encoded to JSON and stored on the task.
    type Output: Serialize + Send + 'static;

    /// Runs one attempt.
    fn run(
        &self,
        input: Self::Input,
        ctx: TaskContext,
    ) -> impl Future<Output = Result<Self::Output, TaskFailure>> + Send;
}

/// A [`TaskHandler`] made from a closure returning a future; see [`handler_fn`].
pub struct FnHandler<I, O, F> {
    function: F,
    // `fn() -> (I, O)` keeps the handler Send and Sync whatever I and O are.
    types: PhantomData<fn() -> (I, O)>,
}

/// A handler from an async closure:
///
/// ```
/// use serde_json::{Value, json};
/// use tasks_exec_inproc::{TaskContext, TaskFailure, handler_fn};
///
/// let handler = handler_fn(|input: Value, ctx: TaskContext| async move {
///     ctx.step("working")?;
///     Ok::<_, TaskFailure>(json!({ "echo": input }))
/// });
/// # let _ = handler;
/// ```
pub fn handler_fn<I, O, F, Fut>(function: F) -> FnHandler<I, O, F>
where
    F: Fn(I, TaskContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, TaskFailure>> + Send + 'static,
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
{
    FnHandler { function, types: PhantomData }
}

impl<I, O, F, Fut> TaskHandler for FnHandler<I, O, F>
where
    F: Fn(I, TaskContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, TaskFailure>> + Send + 'static,
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
{
    type Input = I;
    type Output = O;

    fn run(
        &self,
        input: I,
        ctx: TaskContext,
    ) -> impl Future<Output = Result<O, TaskFailure>> + Send {
        (self.function)(input, ctx)
    }
}
