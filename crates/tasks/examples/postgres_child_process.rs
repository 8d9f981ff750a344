//! Durable PostgreSQL + child-process execution: the spec's first example, in Rust.
//!
//! The kind `report.render` is a Python program run by the process executor: it reads its
//! task on stdin and writes progress, steps and its result as JSON lines. The host shares the
//! database with any number of other hosts and wakes on their enqueues (`LISTEN`).
//!
//! `TASKS_POSTGRES_URL=postgres://user@host/db cargo run -p tasks --features postgres,process
//! --example postgres_child_process`

use std::time::Duration;

use serde_json::json;
use tasks::prelude::*;

/// The child: any language works; this one is Python, inline for the example's sake.
const RENDER_PY: &str = r#"
import json, sys, time
task = json.load(sys.stdin)
pages = task["input"].get("pages", 3)
for page in range(1, pages + 1):
    time.sleep(0.2)
    print(json.dumps({"type": "progress", "percent": page * 100 / pages, "label": f"page {page} of {pages}"}), flush=True)
    print(json.dumps({"type": "step", "message": f"rendered page {page}"}), flush=True)
print(json.dumps({"type": "result", "output": {"pages": pages}}), flush=True)
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let Some(url) = std::env::var("TASKS_POSTGRES_URL").ok().filter(|url| !url.is_empty()) else {
        eprintln!(
            "postgres_child_process: set TASKS_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run this example"
        );
        std::process::exit(2);
    };
    let config = StoreConfig::parse(&url)?.with_schema("tasks_example")?;

    // The PostgreSQL client blocks: prepare, connect and listen on a blocking thread.
    let store = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            prepare_task_store_schema(&config)?;
            create_task_store(&config)
        })
        .await??
    };

    let render = ProcessExecutor::new("python3").arg("-c").arg(RENDER_PY);
    let tasks = TaskHost::builder_from_arc(store.as_arc().clone())
        .handler(
            HandlerRegistration::new("report.render", render)
                .concurrency(4)
                .retry(RetryPolicy::attempts(3))
                .timeout(Duration::from_secs(60)),
        )
        .build()?;
    let waker = tasks.waker();
    let listening = store.clone();
    let listener =
        tokio::task::spawn_blocking(move || listening.listen(move || waker.wake())).await??;

    let (finished, mut finished_rx) = tokio::sync::mpsc::unbounded_channel();
    let _subscription = tasks.on_lifecycle_event(move |event| {
        if matches!(
            event.event,
            LifecycleEventName::Succeeded
                | LifecycleEventName::Failed
                | LifecycleEventName::Cancelled
        ) {
            let _ = finished.send(event.task_id.clone());
        }
    });
    tasks.start().await?;

    let queued = tasks
        .enqueue(
            "report.render",
            &json!({ "reportId": "rpt_42", "pages": 4 }),
            EnqueueOptions::new().dedupe_key("report:rpt_42").channel("scope:reports"),
        )
        .await?;
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
    println!("{:?} {:?} {:?}", snapshot.state, snapshot.progress.label, snapshot.output);

    tasks.stop().await?;
    // The last handles to a PostgreSQL store go on a blocking thread too.
    tokio::task::spawn_blocking(move || {
        if let Some(listener) = listener {
            listener.stop();
        }
        drop(store);
    })
    .await?;
    Ok(())
}
