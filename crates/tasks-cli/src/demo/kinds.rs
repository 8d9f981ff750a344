//! The demo's kinds, each showing one thing:
//!
//! - `demo.report` (in-process): progress per page and a step per page;
//! - `demo.thumbnail` (a child process, `sh`): progress as JSON lines, a plain line as a log;
//! - `demo.flaky` (in-process): fails its first attempt, succeeds on the retry;
//! - `demo.index` (in-process): long enough to be superseded, and stops when cancelled.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tasks::core::{Backoff, NewStep, ProgressUpdate, StepLevel};
use tasks::host::{HandlerRegistration, RetryPolicy};
use tasks::inproc::{TaskContext, TaskFailure, from_fn};
use tasks::process::ProcessExecutor;

/// The pause between two units of demo work.
const BEAT: Duration = Duration::from_millis(300);

/// The child process of `demo.thumbnail`: any program speaking the JSON-lines protocol works;
/// this one is a shell script, so the demo needs nothing installed.
const THUMBNAIL_SH: &str = r#"
cat > /dev/null
echo "making a thumbnail for task $TASKS_TASK_ID (attempt $TASKS_ATTEMPT)"
for pass in 1 2 3 4; do
    sleep 0.25
    echo "{\"type\":\"progress\",\"percent\":$((pass * 25)),\"label\":\"pass $pass of 4\"}"
done
echo '{"type":"step","message":"thumbnail written","level":"success"}'
echo '{"type":"result","output":{"width":320,"height":200}}'
"#;

/// Every demo kind, registered with the host.
pub(crate) fn registrations() -> Vec<HandlerRegistration> {
    vec![
        HandlerRegistration::new("demo.report", from_fn(report)).concurrency(3),
        HandlerRegistration::new(
            "demo.thumbnail",
            ProcessExecutor::new("sh")
                .arg("-c")
                .arg(THUMBNAIL_SH)
                .kill_grace(Duration::from_secs(1)),
        )
        .concurrency(2),
        HandlerRegistration::new("demo.flaky", from_fn(flaky))
            .retry(RetryPolicy::attempts(3).backoff(Backoff::constant(Duration::from_secs(1)))),
        HandlerRegistration::new("demo.index", from_fn(index)),
    ]
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportInput {
    report_id: String,
    pages: u32,
}

async fn report(input: ReportInput, ctx: TaskContext) -> Result<Value, TaskFailure> {
    ctx.set_progress(ProgressUpdate::percent(0.0).label("loading data"))?;
    for page in 1..=input.pages {
        tokio::time::sleep(BEAT).await;
        ctx.check_cancelled()?;
        let percent = f64::from(page) * 100.0 / f64::from(input.pages);
        ctx.set_progress(
            ProgressUpdate::percent(percent).label(format!("page {page} of {}", input.pages)),
        )?;
        ctx.append_step(NewStep::info(format!("rendered page {page}")).percent(percent))?;
    }
    Ok(json!({ "outputPath": format!(".data/reports/{}.pdf", input.report_id) }))
}

async fn flaky(_input: Value, ctx: TaskContext) -> Result<Value, TaskFailure> {
    ctx.set_progress(ProgressUpdate::percent(20.0).label("calling the upstream service"))?;
    tokio::time::sleep(BEAT).await;
    if ctx.attempt() == 1 {
        return Err(
            TaskFailure::new("the upstream service timed out").with_code("upstream_timeout")
        );
    }
    ctx.set_progress(ProgressUpdate::percent(100.0).label("upstream answered"))?;
    ctx.append_step(NewStep::info("succeeded on a retry").level(StepLevel::Success))?;
    Ok(json!({ "attempt": ctx.attempt() }))
}

async fn index(_input: Value, ctx: TaskContext) -> Result<Value, TaskFailure> {
    const SHARDS: u32 = 8;
    for shard in 1..=SHARDS {
        // A superseded run is asked to cancel: it stops between shards.
        tokio::select! {
            () = tokio::time::sleep(BEAT) => {}
            () = ctx.cancelled() => return Err(TaskFailure::cancelled("superseded by a newer rebuild")),
        }
        let percent = f64::from(shard) * 100.0 / f64::from(SHARDS);
        ctx.set_progress(
            ProgressUpdate::percent(percent).label(format!("shard {shard} of {SHARDS}")),
        )?;
    }
    Ok(json!({ "shards": SHARDS }))
}
