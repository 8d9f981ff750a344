//! `tasks watch [ID]`: follows tasks live, from any process: a live hub reads the store's
//! change feed (and, on PostgreSQL, wakes on its notifications), so it sees what every worker
//! does. Progress bars on a terminal, a line per change elsewhere, JSON lines with `--json`.
//!
//! With an ID it ends when that task finishes: exit status 0 when it succeeded, 5 when it
//! failed or was cancelled. Without one it runs until SIGINT or SIGTERM, or with
//! `--until-done` until every matching task has finished.

use std::time::Duration;

use clap::Args;
use tasks::core::{LifecycleState, SubscriptionQuery, TaskFilter};

use super::ls::parse_state;
use super::show::{not_found, task_id};
use crate::config::duration;
use crate::context::Context;
use crate::error::{CliError, ExitStatus};
use crate::live::{Ended, StoreFollower, Until, follow};
use crate::output::board::{Board, BoardStyle};
use crate::output::format::one_line;
use crate::output::task::summary_line;
use crate::runtime::{StopSignals, block_on};

/// Options of `tasks watch`.
#[derive(Args, Debug)]
pub(crate) struct WatchArgs {
    /// Follow this task until it finishes
    #[arg(conflicts_with_all = ["channels", "kinds", "states", "until_done"])]
    id: Option<String>,
    /// Only tasks on any of these channels (repeatable)
    #[arg(long = "channel", value_name = "CHANNEL")]
    channels: Vec<String>,
    /// Only tasks of these kinds (repeatable or comma-separated)
    #[arg(long = "kind", value_name = "KIND", value_delimiter = ',')]
    kinds: Vec<String>,
    /// Only tasks in these states (repeatable or comma-separated)
    #[arg(long = "state", value_name = "STATE", value_delimiter = ',', value_parser = parse_state)]
    states: Vec<LifecycleState>,
    /// Stop once every matching task has finished
    #[arg(long)]
    until_done: bool,
    /// At most this many tasks in the first view (the newest)
    #[arg(long, default_value_t = 100, value_name = "N")]
    limit: u32,
    /// How often the store's change feed is read
    #[arg(long, default_value = "100ms", value_name = "DURATION", value_parser = duration::parse)]
    poll: Duration,
}

pub(crate) fn run(args: WatchArgs, context: &Context) -> Result<(), CliError> {
    let (_, store) = context.open_store()?;
    let (filter, until) = match &args.id {
        Some(text) => {
            let id = task_id(text)?;
            if store.get(&id)?.is_none() {
                return Err(not_found(&id));
            }
            (
                TaskFilter { task_ids: vec![id.clone()], ..TaskFilter::default() },
                Until::TaskDone(id),
            )
        }
        None => {
            let filter = TaskFilter {
                channels: args.channels.clone(),
                kinds: args.kinds.clone(),
                states: args.states.clone(),
                ..TaskFilter::default()
            };
            (filter, if args.until_done { Until::AllDone } else { Until::Stopped })
        }
    };
    let query = SubscriptionQuery {
        filter,
        limit: Some(args.limit),
        include_aggregate: Some(false),
        ..SubscriptionQuery::default()
    };
    let style = BoardStyle::detect(context.json());
    let watched = store.clone();
    let ended = block_on(async move {
        let mut signals = StopSignals::listen()?;
        let follower = StoreFollower::start(&watched, args.poll).await?;
        let mut board = Board::new(style);
        let ended = follow(&follower.hub, query, &mut board, &until, &mut signals).await;
        follower.stop().await;
        let ended = ended?;
        if let Ended::TaskDone(snapshot) = &ended {
            board.note(&summary_line(snapshot))?;
        }
        Ok(ended)
    });
    // The store's last handle goes here, off the runtime (the PostgreSQL client needs that).
    drop(store);
    match ended? {
        Ended::TaskDone(snapshot) if snapshot.state == LifecycleState::Succeeded => Ok(()),
        Ended::TaskDone(snapshot) => {
            let why = match &snapshot.error {
                Some(error) => format!(": {}", one_line(&error.message, 200)),
                None => String::new(),
            };
            Err(CliError::new(
                ExitStatus::TaskFailed,
                format!("task {} {}{why}", snapshot.task_id, snapshot.state.as_str()),
            ))
        }
        Ended::AllDone | Ended::Signal(_) => Ok(()),
    }
}
