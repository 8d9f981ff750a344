//! `tasks cancel ID`: a queued task is cancelled at once; a claimed or running one gets a
//! cancel request, which its worker acts on (at its next heartbeat when it runs elsewhere).

use clap::Args;
use tasks::core::{TaskSnapshot, Timestamp};

use super::show::task_id;
use crate::context::Context;
use crate::error::CliError;
use crate::output::{print_json, write_stdout};

/// Options of `tasks cancel`.
#[derive(Args, Debug)]
pub(crate) struct CancelArgs {
    /// The task's id
    id: String,
    /// Why, kept with the task
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

pub(crate) fn run(args: CancelArgs, context: &Context) -> Result<(), CliError> {
    let id = task_id(&args.id)?;
    let (_, store) = context.open_store()?;
    // An unknown id is the store's `NotFound`: exit status 4.
    let record = store.cancel(&id, args.reason.as_deref(), Timestamp::now_utc())?;
    let snapshot = TaskSnapshot::from_record(&record);
    if context.json() {
        return print_json(&snapshot);
    }
    if record.status.is_terminal() {
        write_stdout(&format!("cancelled {id} ({})", record.kind))
    } else {
        write_stdout(&format!(
            "cancel requested for {id} ({}, {}): its worker stops it",
            record.kind,
            snapshot.state.as_str()
        ))
    }
}
