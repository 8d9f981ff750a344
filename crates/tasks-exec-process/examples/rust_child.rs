//! A Rust child for the process executor: the handler is an ordinary [`TaskHandler`] (it
//! could be registered with the in-process executor unchanged), and `main` hands it to
//! `tasks_exec_process::child::run`.
//!
//! Run it by hand with a task on stdin:
//!
//! ```text
//! echo '{"id":"01J9Z5V6Q4M8S1X2Y3Z4A5B6C7","kind":"split","attempt":1,"maxAttempts":3,
//!   "metadata":null,"channels":[],"concurrencyKey":null,"dedupeKey":null,
//!   "supersedeKey":null,"input":{"parts":3}}' | cargo run -q --example rust_child
//! ```

use serde::{Deserialize, Serialize};
use tasks_core::{NewStep, ProgressUpdate, StepKind};
use tasks_exec_inproc::{TaskContext, TaskFailure, TaskHandler};

#[derive(Deserialize)]
struct SplitInput {
    parts: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SplitOutput {
    parts_done: u32,
}

struct Split;

impl TaskHandler for Split {
    type Input = SplitInput;
    type Output = SplitOutput;

    async fn run(&self, input: SplitInput, ctx: TaskContext) -> Result<SplitOutput, TaskFailure> {
        if input.parts == 0 {
            return Err(TaskFailure::fatal("nothing to split"));
        }
        for part in 1..=input.parts {
            // SIGTERM from the executor fires this signal.
            ctx.check_cancelled()?;
            let percent = f64::from(part) * 100.0 / f64::from(input.parts);
            ctx.set_progress(ProgressUpdate::percent(percent).label(format!("part {part}")))?;
            ctx.append_step(
                NewStep::info(format!("part {part} done"))
                    .kind(StepKind::Checkpoint)
                    .percent(percent),
            )?;
        }
        Ok(SplitOutput { parts_done: input.parts })
    }
}

fn main() -> std::process::ExitCode {
    tasks_exec_process::child::run(Split)
}
