//! The one kind every worker runs, [`WORK_KIND`], and what its input asks of it
//! ([`WorkInput`]): how long to work, how many steps and progress updates to report on the way,
//! whether to wait for a wall-clock instant, or to run until cancelled. Its handler logs each
//! run and each cancel it sees to the history.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tasks_core::{NewStep, ProgressUpdate, Timestamp};
use tasks_exec_inproc::{TaskContext, TaskFailure};

use super::history::{Event, HistoryLog};

/// The kind of every gauntlet task.
pub const WORK_KIND: &str = "gauntlet.work";

/// The kind only the worker `runner` handles: a task of it shows that host is up and claiming
/// (its history log leaves such tasks out).
pub fn ping_kind(runner: &str) -> String {
    format!("gauntlet.ping.{runner}")
}

/// What a task asks of its handler. Every field defaults to zero or false: an empty input is a
/// task that succeeds at once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkInput {
    /// How long the work takes, in milliseconds.
    pub work_ms: u64,
    /// Steps appended, spread over the work.
    pub steps: u32,
    /// Progress updates, spread over the work.
    pub progress: u32,
    /// After the work, keep working until cancelled (or until `until_ms`).
    pub hang: bool,
    /// Stop hanging at this wall-clock instant (Unix milliseconds); 0 hangs until cancelled.
    pub until_ms: i64,
    /// While hanging, report a progress update and a step every `tick_ms`; 0 stays silent.
    pub tick_ms: u64,
    /// All of the above is for the first attempt: later attempts succeed at once.
    pub first_attempt_only: bool,
}

impl WorkInput {
    /// The input as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Runs one attempt of a gauntlet task, logging `R` when it begins and `C` when it stops on a
/// cancel.
///
/// # Errors
///
/// A cancelled failure when the attempt is cancelled (the host lost the lease, the task was
/// cancelled, the host stops); a report the runner refused.
pub async fn run(
    input: WorkInput,
    ctx: TaskContext,
    log: Arc<HistoryLog>,
) -> Result<Value, TaskFailure> {
    let (id, attempt) = (ctx.id().to_string(), ctx.attempt());
    log.log(Event::Ran { id: id.clone(), attempt });
    let result = work(&input, &ctx).await;
    if result.is_err() && !ctx.is_cancelled() {
        // A report the runner refused (its lease is lost) comes a moment before the cancel
        // signal fires: give the signal a moment, so the log says why the handler stopped.
        let _ = tokio::time::timeout(Duration::from_secs(1), ctx.cancelled()).await;
    }
    if ctx.is_cancelled() {
        log.log(Event::Cancelled { id, attempt });
    }
    result?;
    Ok(json!({ "attempt": attempt, "pid": std::process::id() }))
}

async fn work(input: &WorkInput, ctx: &TaskContext) -> Result<(), TaskFailure> {
    if input.first_attempt_only && ctx.attempt() > 1 {
        return Ok(());
    }
    let reports = input.steps.max(input.progress);
    if reports > 0 {
        let pause = Duration::from_millis(input.work_ms / u64::from(reports));
        for n in 1..=reports {
            pause_or_cancel(ctx, pause).await?;
            if n <= input.steps {
                ctx.append_step(NewStep::info(format!("step {n} of {}", input.steps)))?;
            }
            if n <= input.progress {
                let percent = f64::from(n) * 100.0 / f64::from(input.progress);
                ctx.set_progress(ProgressUpdate::percent(percent))?;
            }
        }
    } else if input.work_ms > 0 {
        pause_or_cancel(ctx, Duration::from_millis(input.work_ms)).await?;
    }
    let tick = Duration::from_millis(if input.tick_ms == 0 { 50 } else { input.tick_ms });
    let mut beat = 0u64;
    while input.hang && (input.until_ms == 0 || Timestamp::now_utc().as_millis() < input.until_ms) {
        pause_or_cancel(ctx, tick).await?;
        if input.tick_ms > 0 {
            beat += 1;
            ctx.set_progress(ProgressUpdate::percent((beat % 100) as f64).label("working"))?;
            ctx.append_step(NewStep::info(format!("beat {beat}")))?;
        }
    }
    Ok(())
}

/// Waits `pause`, or fails as cancelled as soon as the attempt is cancelled.
async fn pause_or_cancel(ctx: &TaskContext, pause: Duration) -> Result<(), TaskFailure> {
    tokio::select! {
        () = tokio::time::sleep(pause) => ctx.check_cancelled(),
        () = ctx.cancelled() => ctx.check_cancelled(),
    }
}
