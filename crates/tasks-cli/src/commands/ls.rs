//! `tasks ls`: a page of tasks, newest first, filtered by state, kind and channel, with the
//! counts of every matching task by state.

use clap::{Args, ValueEnum};
use tasks::core::{
    LifecycleState, SnapshotQuery, TaskFilter, TaskListQuery, TaskOrder, TaskStoreExt, Timestamp,
};

use crate::context::Context;
use crate::error::CliError;
use crate::output::format::{mark, one_line, percent, relative};
use crate::output::table::Table;
use crate::output::{print_json, write_stdout};

/// Options of `tasks ls`.
#[derive(Args, Debug)]
pub(crate) struct LsArgs {
    /// Only tasks in these states (repeatable or comma-separated)
    #[arg(long = "state", value_name = "STATE", value_delimiter = ',', value_parser = parse_state)]
    states: Vec<LifecycleState>,
    /// Only tasks of these kinds (repeatable or comma-separated)
    #[arg(long = "kind", value_name = "KIND", value_delimiter = ',')]
    kinds: Vec<String>,
    /// Only tasks on any of these channels (repeatable)
    #[arg(long = "channel", value_name = "CHANNEL")]
    channels: Vec<String>,
    /// At most this many tasks
    #[arg(long, default_value_t = 50, value_name = "N")]
    limit: u32,
    /// Skip this many tasks first
    #[arg(long, value_name = "N")]
    offset: Option<u32>,
    /// The order
    #[arg(long, value_enum, default_value_t = Order::CreatedDesc)]
    order: Order,
}

/// `--order`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Order {
    CreatedDesc,
    CreatedAsc,
    UpdatedDesc,
    ScheduledAsc,
    ScheduledDesc,
}

impl From<Order> for TaskOrder {
    fn from(order: Order) -> Self {
        match order {
            Order::CreatedDesc => TaskOrder::CreatedDesc,
            Order::CreatedAsc => TaskOrder::CreatedAsc,
            Order::UpdatedDesc => TaskOrder::UpdatedDesc,
            Order::ScheduledAsc => TaskOrder::ScheduledAsc,
            Order::ScheduledDesc => TaskOrder::ScheduledDesc,
        }
    }
}

/// A lifecycle state by name, for `--state`.
pub(crate) fn parse_state(text: &str) -> Result<LifecycleState, String> {
    LifecycleState::parse(text.trim()).ok_or_else(|| {
        let names: Vec<&str> = LifecycleState::ALL.iter().map(|state| state.as_str()).collect();
        format!("unknown state {text:?}: use {}", names.join(", "))
    })
}

pub(crate) fn run(args: LsArgs, context: &Context) -> Result<(), CliError> {
    let filter = TaskFilter {
        states: args.states,
        kinds: args.kinds,
        channels: args.channels,
        ..TaskFilter::default()
    };
    let mut list =
        TaskListQuery::filtered(filter.clone()).limit(args.limit).order(args.order.into());
    if let Some(offset) = args.offset {
        list = list.offset(offset);
    }
    let (_, store) = context.open_store()?;
    let snapshots = store.list_snapshots(&SnapshotQuery { list, include_steps: None })?;
    if context.json() {
        return print_json(&snapshots);
    }
    let aggregate = store.aggregate(&filter)?;
    let now = Timestamp::now_utc();
    let mut table = Table::new(&["ID", "KIND", "STATE", "PROGRESS", "ATTEMPT", "UPDATED"]);
    for snapshot in &snapshots {
        let label = snapshot.progress.label.as_deref().map(|label| one_line(label, 40));
        table.push(vec![
            snapshot.task_id.to_string(),
            snapshot.kind.clone(),
            format!("{} {}", mark(snapshot.state), snapshot.state.as_str()),
            format!("{} {}", percent(snapshot.progress.percent), label.unwrap_or_default())
                .trim_end()
                .to_owned(),
            format!("{}/{}", snapshot.attempt, snapshot.max_attempts),
            relative(snapshot.updated_at, now),
        ]);
    }
    if snapshots.is_empty() {
        write_stdout("no tasks")?;
    } else {
        for line in table.render() {
            write_stdout(&line)?;
        }
    }
    let counts: Vec<String> = LifecycleState::ALL
        .iter()
        .filter_map(|state| {
            let count = aggregate.by_state.get(*state);
            (count > 0).then(|| format!("{count} {}", state.as_str()))
        })
        .collect();
    let total = aggregate.total;
    if total > 0 {
        write_stdout(&format!(
            "{} of {total} matching task{}: {}",
            snapshots.len(),
            if total == 1 { "" } else { "s" },
            counts.join(", ")
        ))?;
    }
    Ok(())
}
