//! The fuzz targets' bodies: one input through one parser, and the promises checked on what
//! it made of it. A refusal is fine; a panic (caught by the caller), an unbounded result or a
//! broken round trip is a finding.

use tasks_core::limits::{MAX_PAGE_LIMIT, MAX_TEXT_LEN};
use tasks_core::{TaskListQuery, TaskLiveMessage};
use tasks_exec_process::OutputLimits;
use tasks_exec_process::fuzzing::read_stdout_bytes;
use tasks_live::TaskLiveTracker;
use tasks_live::http::query::{parse_json_body, parse_query_string};

use super::Target;

/// Runs `data` through `target`: `Ok(true)` when the parser took it, `Ok(false)` when it
/// refused it cleanly, `Err` naming the promise it broke.
///
/// # Errors
///
/// A text naming the broken promise.
pub fn check(target: Target, data: &[u8]) -> Result<bool, String> {
    match target {
        Target::ProcessStdout => process_stdout(data),
        Target::LiveMessage => live_message(data),
        Target::SubscriptionQuery => subscription_query(data),
        Target::TaskQuery => task_query(data),
    }
}

/// The stdout protocol, with small limits (so cuts and the log budget are reached) and with
/// the defaults. Promises: every report the executor made passes the host's validation (the
/// recorder enforces it), no message exceeds the text limit, the plain-line budget holds, and
/// a declared result and a cut or unreadable one are never both taken.
fn process_stdout(data: &[u8]) -> Result<bool, String> {
    let small = OutputLimits::default().max_line_bytes(256).max_log_steps(20);
    for limits in [small, OutputLimits::default()] {
        let reading = read_stdout_bytes(data, limits);
        let lines = data.split(|byte| *byte == b'\n').count() as u64;
        if reading.steps.len() as u64 > lines + 1 {
            return Err(format!("{} steps from {lines} lines", reading.steps.len()));
        }
        if let Some(step) = reading.steps.iter().find(|step| step.message.len() > MAX_TEXT_LEN) {
            return Err(format!("a step message of {} bytes", step.message.len()));
        }
        if let Some(step) = reading.steps.iter().find(|step| step.message.contains('\0')) {
            return Err(format!("a step message holding NUL: {:?}", step.message));
        }
        let plain = reading
            .steps
            .iter()
            .filter(|step| step.meta.is_none() && step.kind == tasks_core::StepKind::Log)
            .count() as u64;
        if plain > limits.max_log_steps {
            return Err(format!(
                "{plain} plain log steps over a budget of {}",
                limits.max_log_steps
            ));
        }
        if reading.result.is_some() && reading.error.is_some() {
            return Err("both a result and an error were declared".into());
        }
    }
    Ok(!data.is_empty())
}

/// A live message as a client decodes it. Promises: a decoded message encodes and decodes
/// back to itself, and applying it to a tracker a second time changes nothing.
fn live_message(data: &[u8]) -> Result<bool, String> {
    let Ok(message) = serde_json::from_slice::<TaskLiveMessage>(data) else { return Ok(false) };
    let text = serde_json::to_string(&message).map_err(|error| format!("re-encoding: {error}"))?;
    let again: TaskLiveMessage = serde_json::from_str(&text)
        .map_err(|error| format!("decoding its own encoding: {error}"))?;
    if again != message {
        return Err(format!("the round trip changed the message: {text}"));
    }
    let mut tracker = TaskLiveTracker::new();
    tracker.apply(&message);
    if tracker.apply(&message) {
        return Err("applying the same message twice changed the tracker twice".into());
    }
    Ok(true)
}

/// A subscription query from a query string and from a JSON body. Promises: what parses
/// normalizes or is refused with a typed error, and a normalized filter stays within limits.
fn subscription_query(data: &[u8]) -> Result<bool, String> {
    let text = String::from_utf8_lossy(data);
    let mut took = false;
    if let Ok((query, _cursor)) = parse_query_string(&text) {
        took |= filter_holds(&query.filter)?;
    }
    if let Ok(query) = parse_json_body(data) {
        took |= filter_holds(&query.filter)?;
    }
    Ok(took)
}

/// A task list query from JSON. Promises: a query that validates has a limit within range and
/// a filter within limits.
fn task_query(data: &[u8]) -> Result<bool, String> {
    let Ok(query) = serde_json::from_slice::<TaskListQuery>(data) else { return Ok(false) };
    let Ok((filter, limit)) = query.normalized() else { return Ok(false) };
    if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
        return Err(format!("a validated limit of {limit}"));
    }
    filter_holds(&filter)
}

/// Normalizes a filter; `Ok(true)` when it is valid and within limits.
fn filter_holds(filter: &tasks_core::TaskFilter) -> Result<bool, String> {
    let Ok(normalized) = filter.normalized() else { return Ok(false) };
    if normalized.channels.len() > tasks_core::limits::MAX_CHANNELS {
        return Err(format!("{} channels passed normalization", normalized.channels.len()));
    }
    if normalized.normalized().as_ref() != Ok(&normalized) {
        return Err("normalizing twice changed the filter".into());
    }
    Ok(true)
}
