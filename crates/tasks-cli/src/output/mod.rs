//! What the commands print: JSON for scripts ([`print_json`], [`print_json_line`]) in the core
//! types' own serde shapes, and text for people: [`mod@format`] (states, percents, times),
//! [`table`] (aligned columns), [`task`] (one task in detail), [`board`] (live progress).

pub(crate) mod board;
pub(crate) mod events;
pub(crate) mod format;
pub(crate) mod table;
pub(crate) mod task;

use std::io::Write;

use serde::Serialize;

use crate::error::CliError;

/// Prints one JSON document, indented, on stdout.
pub(crate) fn print_json(value: &impl Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|err| CliError::runtime(format!("cannot encode the output as JSON: {err}")))?;
    write_stdout(&text)
}

/// Prints one JSON document on one line (a stream of them is JSON Lines).
pub(crate) fn print_json_line(value: &impl Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string(value)
        .map_err(|err| CliError::runtime(format!("cannot encode the output as JSON: {err}")))?;
    write_stdout(&text)
}

/// Writes a line to stdout and flushes it (a reader of a pipe sees it at once).
pub(crate) fn write_stdout(line: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|err| CliError::runtime(format!("cannot write to stdout: {err}")))
}
