//! Hosts inside the scenario's own process (when the scenario must time every store call a
//! host makes, or reach into its store): the gauntlet's one kind on an in-process executor,
//! logging to a history file like the worker processes do.

use std::sync::Arc;

use tasks_core::{Backoff, TaskStore};
use tasks_exec_inproc::{TaskContext, from_fn};
use tasks_host::{HandlerRegistration, RetryPolicy, RunnerOptions, TaskHost};

use super::history::HistoryLog;
use super::work::{self, WORK_KIND, WorkInput};
use crate::Violation;

/// A host named `runner` over `store` running the gauntlet's kind (10 attempts, retried after
/// 100 ms), its handlers logging to `log`. It is built, not started.
///
/// # Errors
///
/// The options are invalid.
pub fn host(
    store: Arc<dyn TaskStore>,
    runner: &str,
    options: RunnerOptions,
    log: &Arc<HistoryLog>,
) -> Result<TaskHost, Violation> {
    let log = Arc::clone(log);
    let handler =
        from_fn(move |input: WorkInput, ctx: TaskContext| work::run(input, ctx, Arc::clone(&log)));
    let retry =
        RetryPolicy::attempts(10).backoff(Backoff::constant(std::time::Duration::from_millis(100)));
    TaskHost::builder_from_arc(store)
        .options(options.runner_id(runner))
        .handler(HandlerRegistration::new(WORK_KIND, handler).retry(retry))
        .build()
        .map_err(|error| Violation(format!("cannot build host {runner}: {error}")))
}

/// A runtime for in-process hosts: two workers, timers and I/O.
///
/// # Errors
///
/// The runtime cannot be built.
pub fn runtime() -> Result<tokio::runtime::Runtime, Violation> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}
