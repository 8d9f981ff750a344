//! `tasks show ID`: one task's snapshot and its most recent steps.

use clap::Args;
use tasks::core::{SnapshotOptions, TaskId, TaskStoreExt, Timestamp};

use crate::context::Context;
use crate::error::{CliError, ExitStatus};
use crate::output::task::detail_lines;
use crate::output::{print_json, write_stdout};

/// Options of `tasks show`.
#[derive(Args, Debug)]
pub(crate) struct ShowArgs {
    /// The task's id
    id: String,
    /// How many of the most recent steps to show
    #[arg(long, default_value_t = 20, value_name = "N")]
    steps: u32,
}

/// A task id from the command line (exit status 2 when it cannot be one).
pub(crate) fn task_id(text: &str) -> Result<TaskId, CliError> {
    TaskId::new(text.trim()).map_err(|err| CliError::usage(err.to_string()))
}

/// The error for a task that does not exist (exit status 4).
pub(crate) fn not_found(id: &TaskId) -> CliError {
    CliError::new(ExitStatus::NotFound, format!("task {id} not found"))
}

pub(crate) fn run(args: ShowArgs, context: &Context) -> Result<(), CliError> {
    let id = task_id(&args.id)?;
    let (_, store) = context.open_store()?;
    let options = SnapshotOptions { include_steps: Some(args.steps) };
    let snapshot = store.read_snapshot(&id, &options)?.ok_or_else(|| not_found(&id))?;
    if context.json() {
        return print_json(&snapshot);
    }
    for line in detail_lines(&snapshot, Timestamp::now_utc()) {
        write_stdout(&line)?;
    }
    Ok(())
}
