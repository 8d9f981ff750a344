//! The demo's last words: how long it took, what happened to each task, and what to try next.

use std::time::Duration;

use tasks::core::{LifecycleState, TaskSnapshot};

use crate::output::format::duration;
use crate::output::task::summary_line;

/// The summary's lines.
pub(crate) fn lines(snapshots: &[TaskSnapshot], took: Duration, store: &str) -> Vec<String> {
    let count = |state| snapshots.iter().filter(|snapshot| snapshot.state == state).count();
    let retried = snapshots.iter().filter(|snapshot| snapshot.attempt > 1).count();
    let mut outcome: Vec<String> =
        [LifecycleState::Succeeded, LifecycleState::Failed, LifecycleState::Cancelled]
            .into_iter()
            .filter(|state| count(*state) > 0)
            .map(|state| format!("{} {}", count(state), state.as_str()))
            .collect();
    if retried > 0 {
        outcome.push(format!("{retried} retried after a failure"));
    }
    let mut lines = vec![
        String::new(),
        format!("done in {}: {} tasks, {}", duration(took), snapshots.len(), outcome.join(", ")),
    ];
    // Oldest first, as they were enqueued.
    lines.extend(snapshots.iter().rev().map(|snapshot| format!("  {}", summary_line(snapshot))));
    lines.push(String::new());
    lines.push(format!("The tasks are in {store}. Next:"));
    for (command, what) in [
        ("tasks ls", "list them"),
        ("tasks show ID", "one task, with its steps"),
        ("tasks worker --config tasks.toml", "run your own programs as task kinds"),
        ("tasks watch", "follow them live, from another terminal"),
    ] {
        lines.push(format!("  {command:<34}{what}"));
    }
    lines
}
