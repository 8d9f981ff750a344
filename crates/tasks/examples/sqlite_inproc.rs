//! Durable SQLite + in-process execution: the spec's local host, in Rust.
//!
//! Prepares an SQLite store under `./.data/` with the generic factory, registers a typed Rust
//! handler for `report.generate`, enqueues a task (deduped and keyed), waits for it, and reads
//! its snapshot with its recent steps.
//!
//! `cargo run -p tasks --example sqlite_inproc`

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tasks::prelude::*;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportInput {
    report_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportOutput {
    output_path: String,
}

/// The handler: reports progress and a step, works a little, and returns where it wrote.
struct GenerateReport;

impl TaskHandler for GenerateReport {
    type Input = ReportInput;
    type Output = ReportOutput;

    async fn run(&self, input: ReportInput, ctx: TaskContext) -> Result<ReportOutput, TaskFailure> {
        ctx.set_progress(ProgressUpdate::percent(10.0).label("loading inputs"))?;
        ctx.append_step(
            NewStep::info(format!("Preparing report {}", input.report_id)).percent(10.0),
        )?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        ctx.check_cancelled()?;
        ctx.set_progress(ProgressUpdate::percent(100.0).label("done"))?;
        Ok(ReportOutput { output_path: format!("/tmp/reports/{}.json", input.report_id) })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    std::fs::create_dir_all(".data")?;
    let url = "sqlite:.data/tasks.sqlite";
    // The factory blocks (it opens the file): run it off the async workers.
    let store = tokio::task::spawn_blocking(move || {
        prepare_task_store_schema(url)?;
        create_task_store(url)
    })
    .await??;

    let tasks = TaskHost::builder_from_arc(store.into_arc())
        .handler(
            HandlerRegistration::new("report.generate", InProcessExecutor::new(GenerateReport))
                .concurrency(2)
                .retry(RetryPolicy::attempts(3)),
        )
        .build()?;
    let (finished, mut finished_rx) = tokio::sync::mpsc::unbounded_channel();
    let _listener = tasks.on_lifecycle_event(move |event| {
        let name = event.event;
        if matches!(
            name,
            LifecycleEventName::Succeeded
                | LifecycleEventName::Failed
                | LifecycleEventName::Cancelled
        ) {
            let _ = finished.send(event.task_id.clone());
        }
    });
    tasks.start().await?;

    let options =
        EnqueueOptions::new().dedupe_key("report:rpt_42").concurrency_key("report:rpt_42");
    let queued =
        tasks.enqueue("report.generate", &json!({ "reportId": "rpt_42" }), options).await?;
    println!("{} {:?}", queued.task.id, queued.disposition);

    while let Some(id) = finished_rx.recv().await {
        if id == queued.task.id {
            break;
        }
    }
    let snapshot = tasks
        .read_snapshot(&queued.task.id, SnapshotOptions { include_steps: Some(20) })
        .await?
        .ok_or("the task is gone")?;
    println!(
        "{:?} {:?} {}",
        snapshot.state,
        snapshot.progress.percent,
        snapshot.steps.map_or(0, |steps| steps.len())
    );
    tasks.stop().await?;
    Ok(())
}
