//! A worker's log: one line per lifecycle event worth a person's attention (progress and
//! steps are left to `tasks watch`), and runner errors.

use tasks::core::{HostEventType, LifecycleEventName, TaskHostEvent, TaskLifecycleEvent};

use super::format::{duration, mark, one_line};

/// `12:00:01.123Z  ✓ succeeded  01J…  report.generate  attempt 1/3, ran 1.2 s`, or `None`
/// for progress and step events.
pub(crate) fn lifecycle_line(event: &TaskLifecycleEvent) -> Option<String> {
    if matches!(event.event, LifecycleEventName::Progress | LifecycleEventName::Step) {
        return None;
    }
    let snapshot = event.snapshot.as_ref();
    let state = snapshot.map(|snapshot| mark(snapshot.state)).unwrap_or(" ");
    let mut line = format!(
        "{}  {state} {:<10}  {}  {}",
        clock(&event.timestamp.to_rfc3339()),
        event.event.as_str(),
        event.task_id,
        event.kind
    );
    if let Some(snapshot) = snapshot {
        line.push_str(&format!("  attempt {}/{}", snapshot.attempt, snapshot.max_attempts));
        if let (Some(started), Some(finished)) = (snapshot.started_at, snapshot.finished_at) {
            line.push_str(&format!(", ran {}", duration(finished.duration_since(started))));
        }
    }
    if let Some(error) = &event.error {
        line.push_str(&format!(": {}", one_line(&error.message, 160)));
    }
    Some(line)
}

/// A runner error or a store warning as a warning line; `None` for every other host event.
pub(crate) fn runner_error_line(event: &TaskHostEvent) -> Option<String> {
    if !matches!(event.event_type, HostEventType::RunnerError | HostEventType::RunnerWarning) {
        return None;
    }
    let message = event
        .message
        .as_deref()
        .or(event.error.as_ref().map(|error| error.message.as_str()))
        .unwrap_or("unknown error");
    Some(format!("warning: {}", one_line(message, 300)))
}

/// The time of day of an RFC 3339 timestamp.
fn clock(rfc3339: &str) -> &str {
    rfc3339.split_once('T').map_or(rfc3339, |(_, clock)| clock)
}
