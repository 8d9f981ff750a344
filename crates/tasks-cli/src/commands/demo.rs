//! `tasks demo`: the way a newcomer meets the project. With no arguments it creates an SQLite
//! store under `./.data/`, registers sample kinds (in-process and child-process), enqueues a
//! batch (showing a dedupe and a supersede), shows live progress per task until every task
//! has finished, then a summary. It finishes on its own in a few seconds; with `--serve` it
//! then serves the web dashboard over the same store until Ctrl-C.

use std::time::Instant;

use clap::Args;
use serde_json::json;
use tasks::core::{
    EnqueueDisposition, EnqueueOutcome, SnapshotQuery, SubscriptionQuery, TaskFilter,
    TaskListQuery, TaskStoreExt,
};
use tasks::core::{TaskId, task_channel};
use tasks::host::{RunnerOptions, TaskHost};
use tasks::live::{LiveSource, TaskLiveHub};

use super::serve::{ServeArgs, serve};
use crate::context::Context;
use crate::demo::{batch, kinds, summary};
use crate::error::CliError;
use crate::live::{Ended, Until, follow};
use crate::output::board::{Board, BoardStyle};
use crate::output::{print_json, write_stdout};
use crate::runtime::{StopSignals, block_on};

/// Options of `tasks demo` (the store is `--db`, else `sqlite:.data/tasks.sqlite`).
#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Then serve the web dashboard over the demo's store until Ctrl-C
    #[arg(long)]
    serve: bool,
    /// Where and how to serve it (with --serve)
    #[command(flatten)]
    dashboard: ServeArgs,
}

pub(crate) fn run(args: DemoArgs, context: &Context) -> Result<(), CliError> {
    if args.serve {
        // Before the demo runs, not after: a refused address is known at once.
        args.dashboard.check_bind()?;
    }
    let started = Instant::now();
    let (store_config, store) = context.prepare_store()?;
    let run = TaskId::generate().to_string().to_lowercase();
    let channel = task_channel::scope(format!("demo:{run}"));
    let options = RunnerOptions::default()
        .concurrency(4)
        .poll_interval(std::time::Duration::from_millis(200))
        .progress_flush_interval(std::time::Duration::from_millis(100));
    let mut builder = TaskHost::builder_from_arc(store.as_arc().clone()).options(options);
    for registration in kinds::registrations() {
        builder = builder.handler(registration);
    }
    let host = builder.build()?;
    let json = context.json();
    let style = if json { BoardStyle::Quiet } else { BoardStyle::detect(false) };
    let feed = store.as_arc().clone();
    let reader = store.clone();
    let shown_store = store_config.to_string();
    let result = block_on(async move {
        let mut signals = StopSignals::listen()?;
        let mut board = Board::new(style);
        board.note(&format!("demo: a run of sample tasks on {shown_store} (channel {channel})"))?;
        host.start().await?;
        let mut enqueued = Vec::new();
        for planned in batch::plan(&channel) {
            let outcome = host.enqueue_task(planned.task).await?;
            board.note(&enqueue_line(&outcome, planned.note))?;
            enqueued.push(outcome);
        }
        let hub = TaskLiveHub::new(LiveSource::host(host.clone()).with_change_feed(feed))?;
        let query = SubscriptionQuery {
            filter: TaskFilter { channels: vec![channel.clone()], ..TaskFilter::default() },
            include_aggregate: Some(false),
            ..SubscriptionQuery::default()
        };
        let ended = follow(&hub, query, &mut board, &Until::AllDone, &mut signals).await;
        host.stop().await?;
        if let Ended::Signal(signal) = ended? {
            board.note(&format!("{} received: the demo stopped early", signal.name()))?;
        }
        let filter = TaskFilter { channels: vec![channel.clone()], ..TaskFilter::default() };
        let query = SnapshotQuery { list: TaskListQuery::filtered(filter), include_steps: None };
        let snapshots =
            tokio::task::spawn_blocking(move || reader.list_snapshots(&query))
                .await
                .map_err(|err| CliError::runtime(format!("reading the summary failed: {err}")))??;
        Ok((channel, enqueued, snapshots))
    });
    let (channel, enqueued, snapshots) = result?;
    if json {
        print_json(&json!({
            "store": store_config.to_string(),
            "channel": channel,
            "enqueued": enqueued,
            "tasks": snapshots,
        }))?;
    } else {
        for line in summary::lines(&snapshots, started.elapsed(), &store_config.to_string()) {
            write_stdout(&line)?;
        }
    }
    if args.serve {
        block_on(serve(store.as_arc().clone(), args.dashboard, json))?;
    }
    // The store outlives every runtime (see `block_on`).
    drop(store);
    Ok(())
}

/// `created     01J…  demo.report  a report, 4 pages`.
fn enqueue_line(outcome: &EnqueueOutcome, note: &str) -> String {
    let disposition = match outcome.disposition {
        EnqueueDisposition::Created => "created",
        EnqueueDisposition::Reused => "reused",
        EnqueueDisposition::Superseded => "superseded",
    };
    let mut line =
        format!("  {disposition:<10}  {}  {:<14}  {note}", outcome.task.id, outcome.task.kind);
    if !outcome.superseded_task_ids.is_empty() {
        let ids: Vec<String> = outcome.superseded_task_ids.iter().map(TaskId::to_string).collect();
        line.push_str(&format!(" (replaces {})", ids.join(", ")));
    }
    line
}
