//! The demo handler: what it does is chosen by its input's `mode`, so one binary covers every
//! scenario the tests need. It uses only the [`TaskHandler`] trait and its context, so it runs
//! unchanged in process or in a child.

use serde::Deserialize;
use serde_json::{Value, json};
use tasks_core::{NewStep, ProgressUpdate, StepKind, StepLevel};
use tasks_exec_inproc::{TaskContext, TaskFailure, TaskHandler};

/// The handler.
pub(crate) struct Demo;

/// What the demo does.
#[derive(Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub(crate) enum DemoInput {
    /// Reports progress in `steps` steps with a step each, then succeeds.
    Report {
        /// How many steps.
        steps: u32,
    },
    /// Succeeds with its own input (the `value` field) at once.
    Echo {
        /// What to return.
        value: Value,
    },
    /// Fails, retryable or not.
    Fail {
        /// Whether another attempt may help.
        retryable: bool,
    },
    /// Fails (retryable) until attempt `succeed_on`.
    FailUntil {
        /// The first attempt that succeeds.
        succeed_on: u32,
    },
    /// Says it waits, waits for cancellation, says it saw it, and stops.
    WaitCancel,
    /// Sleeps, then succeeds (a handler using tokio's timers).
    Sleep {
        /// How long, in milliseconds.
        ms: u64,
    },
    /// Panics.
    Panic,
}

impl TaskHandler for Demo {
    type Input = DemoInput;
    type Output = Value;

    async fn run(&self, input: DemoInput, ctx: TaskContext) -> Result<Value, TaskFailure> {
        match input {
            DemoInput::Report { steps } => {
                for index in 1..=steps {
                    let percent = f64::from(index) * 100.0 / f64::from(steps.max(1));
                    ctx.set_progress(
                        ProgressUpdate::percent(percent).label(format!("part {index}")),
                    )?;
                    ctx.append_step(
                        NewStep::info(format!("finished part {index}"))
                            .kind(StepKind::Checkpoint)
                            .percent(percent),
                    )?;
                }
                ctx.heartbeat()?;
                Ok(json!({ "parts": steps, "attempt": ctx.attempt(), "id": ctx.id().as_str() }))
            }
            DemoInput::Echo { value } => Ok(value),
            DemoInput::Fail { retryable } => {
                ctx.append_step(NewStep::info("about to fail").level(StepLevel::Warn))?;
                Err(TaskFailure::new("the demo failed")
                    .with_code("demo_failure")
                    .retryable(retryable))
            }
            DemoInput::FailUntil { succeed_on } => {
                if ctx.attempt() < succeed_on {
                    return Err(TaskFailure::new(format!("attempt {} fails", ctx.attempt())));
                }
                Ok(json!({ "succeededOn": ctx.attempt() }))
            }
            DemoInput::WaitCancel => {
                ctx.step("waiting for cancellation")?;
                ctx.cancelled().await;
                // Only a handler that saw its cancel signal fire writes this step, so a test
                // tells a SIGTERM turned into cancellation from a process killed outright.
                ctx.step("cancel seen")?;
                ctx.check_cancelled()?;
                Ok(Value::Null)
            }
            DemoInput::Sleep { ms } => {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                Ok(json!({ "slept": ms }))
            }
            DemoInput::Panic => panic!("the demo panicked"),
        }
    }
}
