//! One task for people: the lines of `tasks show` (fields, progress, outcome, keys, times,
//! recent steps) and the one-line summary other commands print.

use tasks::core::{StepRecord, TaskSnapshot, Timestamp};

use super::format::{duration, mark, one_line, percent, relative, status_text};

/// `✓ succeeded  01J…  report.generate  100% done`, or the error of a task that failed.
pub(crate) fn summary_line(snapshot: &TaskSnapshot) -> String {
    let mut line = format!(
        "{} {:<9}  {}  {}",
        mark(snapshot.state),
        snapshot.state.as_str(),
        snapshot.task_id,
        snapshot.kind
    );
    if let Some(value) = snapshot.progress.percent {
        line.push_str(&format!("  {}", percent(Some(value))));
    }
    let text = status_text(snapshot);
    if !text.is_empty() {
        line.push_str(&format!(" {text}"));
    }
    line
}

/// Every line of `tasks show`.
pub(crate) fn detail_lines(snapshot: &TaskSnapshot, now: Timestamp) -> Vec<String> {
    let mut lines = vec![format!("task      {}  {}", snapshot.task_id, snapshot.kind)];
    let mut state = format!(
        "state     {} {} (attempt {} of {})",
        mark(snapshot.state),
        snapshot.state.as_str(),
        snapshot.attempt,
        snapshot.max_attempts
    );
    if snapshot.cancel_requested_at.is_some() && !snapshot.status.is_terminal() {
        state.push_str(", cancel requested");
    }
    lines.push(state);
    let label = snapshot.progress.label.as_deref().map(|label| one_line(label, 100));
    lines.push(format!(
        "progress  {}{}",
        percent(snapshot.progress.percent),
        label.map(|label| format!(" {label}")).unwrap_or_default()
    ));
    lines.push(format!("input     {}", json_line(&snapshot.input)));
    if let Some(output) = &snapshot.output {
        lines.push(format!("output    {}", json_line(output)));
    }
    if let Some(error) = &snapshot.error {
        let code = error.code.as_deref().map(|code| format!(" [{code}]")).unwrap_or_default();
        lines.push(format!("error     {}{code}", one_line(&error.message, 200)));
    }
    if let Some(reason) = &snapshot.progress.stale_reason {
        lines.push(format!("stale     {}", one_line(reason, 100)));
    }
    let keys: Vec<String> = [
        ("dedupe", &snapshot.dedupe_key),
        ("concurrency", &snapshot.concurrency_key),
        ("supersede", &snapshot.supersede_key),
    ]
    .into_iter()
    .filter_map(|(name, key)| key.as_ref().map(|key| format!("{name} {key}")))
    .collect();
    if !keys.is_empty() {
        lines.push(format!("keys      {}", keys.join(", ")));
    }
    if !snapshot.channels.is_empty() {
        lines.push(format!("channels  {}", snapshot.channels.join(", ")));
    }
    if snapshot.priority != 0 {
        lines.push(format!("priority  {}", snapshot.priority));
    }
    lines.push(times(snapshot, now));
    if let Some(owner) = &snapshot.lease_owner {
        lines.push(format!("worker    {owner}"));
    }
    if let Some(steps) = &snapshot.steps {
        lines.push(String::new());
        if steps.is_empty() {
            lines.push("no steps".to_owned());
        } else {
            lines.push(format!(
                "steps (the last {} of {}):",
                steps.len(),
                snapshot.last_step_seq.max(steps.len() as u64)
            ));
            lines.extend(steps.iter().map(step_line));
        }
    }
    lines
}

/// `times     created 5 s ago, started 4 s ago, finished 1 s ago (ran 3.0 s)`.
fn times(snapshot: &TaskSnapshot, now: Timestamp) -> String {
    let mut parts = vec![format!("created {}", relative(snapshot.created_at, now))];
    if snapshot.scheduled_at.as_millis() > now.as_millis() {
        parts.push(format!("due {}", relative(snapshot.scheduled_at, now)));
    }
    if let Some(retry_at) = snapshot.progress.retry_scheduled_at {
        parts.push(format!("retry {}", relative(retry_at, now)));
    }
    if let Some(started) = snapshot.started_at {
        parts.push(format!("started {}", relative(started, now)));
    }
    if let Some(finished) = snapshot.finished_at {
        parts.push(format!("finished {}", relative(finished, now)));
        if let Some(started) = snapshot.started_at {
            parts.push(format!("(ran {})", duration(finished.duration_since(started))));
        }
    }
    format!("times     {}", parts.join(", "))
}

/// `  3  12:00:01.123Z  info     step        message  40%`.
fn step_line(step: &StepRecord) -> String {
    let time = step.created_at.to_rfc3339();
    let clock = time.split_once('T').map_or(time.as_str(), |(_, clock)| clock);
    let percent = step.percent.map(|value| format!("  {value:.0}%")).unwrap_or_default();
    format!(
        "  {:>3}  {clock}  {:<7}  {:<10}  {}{percent}",
        step.seq,
        step.level.as_str(),
        step.kind.as_str(),
        one_line(&step.message, 120)
    )
}

/// A JSON value on one line, cut for the terminal.
fn json_line(value: &serde_json::Value) -> String {
    one_line(&value.to_string(), 200)
}
