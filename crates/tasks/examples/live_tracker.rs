//! Live bootstrap + tracker: the spec's third example, in Rust.
//!
//! A host runs tasks on an SQLite store; a live hub gives a subscriber its bootstrap (the
//! current snapshots, their recent steps, the aggregate) and then every event; a tracker
//! applies them and renders a progress line per task, as a UI would render its panel.
//!
//! `cargo run -p tasks --features live --example live_tracker`

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tasks::core::task_channel;
use tasks::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    std::fs::create_dir_all(".data")?;
    let store = tokio::task::spawn_blocking(|| create_task_store("sqlite:.data/live.sqlite"))
        .await??
        .into_arc();

    let export = from_fn(|input: Value, ctx: TaskContext| async move {
        let parts = input["parts"].as_u64().unwrap_or(4);
        for part in 1..=parts {
            tokio::time::sleep(Duration::from_millis(150)).await;
            ctx.check_cancelled()?;
            let percent = part as f64 * 100.0 / parts as f64;
            ctx.set_progress(ProgressUpdate::percent(percent).label(format!("part {part}")))?;
            ctx.step(format!("exported part {part} of {parts}"))?;
        }
        Ok::<_, TaskFailure>(json!({ "parts": parts }))
    });
    let host = TaskHost::builder_from_arc(Arc::clone(&store))
        .handler(HandlerRegistration::new("workspace.export", export).concurrency(2))
        .build()?;
    // In-process events at once, and the store's feed for everything else.
    let hub = TaskLiveHub::new(LiveSource::host(host.clone()).with_change_feed(store))?;
    host.start().await?;

    let workspace = task_channel::scope("workspace:42");
    for parts in [3, 5] {
        let options = EnqueueOptions::new().channel(workspace.clone());
        host.enqueue("workspace.export", &json!({ "parts": parts }), options).await?;
    }

    // The panel: a tracker fed by the subscription; the listener only applies and signals.
    let tracker = Arc::new(Mutex::new(TaskLiveTracker::new()));
    let (changed, mut changed_rx) = tokio::sync::mpsc::unbounded_channel();
    let sink = Arc::clone(&tracker);
    let query = SubscriptionQuery {
        filter: TaskFilter { channels: vec![workspace], ..TaskFilter::default() },
        recent_steps: Some(100),
        ..SubscriptionQuery::default()
    };
    let subscription = hub
        .subscribe(query, move |message| {
            if sink.lock().expect("the tracker lock").apply(message) {
                let _ = changed.send(());
            }
        })
        .await?;

    while changed_rx.recv().await.is_some() {
        let state = tracker.lock().expect("the tracker lock").state();
        for snapshot in &state.snapshots {
            let percent = snapshot.progress.percent.unwrap_or(0.0);
            let label = snapshot.progress.label.as_deref().unwrap_or(snapshot.state.as_str());
            let steps = state.steps.get(snapshot.task_id.as_str()).map_or(0, Vec::len);
            println!("{} {percent:>5.1}% {label} ({steps} steps)", snapshot.task_id);
        }
        let by_state = &state.aggregate.by_state;
        println!("-- {} running, {} succeeded", by_state.running, by_state.succeeded);
        if by_state.succeeded + by_state.failed + by_state.cancelled == state.snapshots.len() as u64
        {
            break;
        }
    }
    drop(subscription);
    host.stop().await?;
    Ok(())
}
