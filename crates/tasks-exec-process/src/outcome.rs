//! How an attempt ended, from what the child declared on stdout, how it exited,
//! its stderr tail and the cancel signal. The rules, first match wins:
//!
//! 1. a `result` line: `Succeeded` with its output (even if the child was then stopped or
//!    exited non-zero: the work is done), unless the output breaks the store's limits
//!    (`Failed`, not retryable, code [`INVALID_OUTPUT_CODE`]);
//! 2. the attempt was stopped (cancel signal, or the host refusing reports): `Cancelled`;
//! 3. an `error` line: `Failed` with its error and `retryable` flag (true when left out); an
//!    error with code `cancelled` is `Cancelled`;
//! 4. a `result` line cut at the line limit: `Failed`, not retryable, code
//!    [`RESULT_TOO_LARGE_CODE`]; a `result` line that is not valid JSON (nested deeper than
//!    the reader goes, say): `Failed`, not retryable, code [`RESULT_UNREADABLE_CODE`];
//! 5. exit code 0: `Succeeded` with output `null`, so a plain program works unchanged;
//! 6. another exit code: `Failed`, retryable, code [`EXIT_CODE`], the stderr tail as the
//!    message (or "the process exited with code N" when stderr was empty), `details.exitCode`;
//! 7. killed by a signal: `Failed`, retryable, code [`SIGNAL_CODE`], a message naming the
//!    signal followed by the stderr tail, `details.signal` (`SIGSEGV`) and
//!    `details.signalNumber`.
//!
//! A program that cannot be started is `Failed` with code [`SPAWN_FAILED_CODE`], retryable
//! unless the program is missing or not executable.

use std::io;
use std::os::unix::process::ExitStatusExt;

use serde_json::json;
use tasks_core::limits::MAX_TEXT_LEN;
use tasks_core::transition::{CANCELLED_CODE, validate_error, validate_output};
use tasks_core::{CancelSignal, ExecutionOutcome, TaskError};
use tasks_exec_inproc::INVALID_OUTPUT_CODE;

use crate::group::signal_name;
use crate::output::{Declared, cut_text};
use crate::run::Status;

/// The code of an attempt whose process exited with a non-zero code and no `error` line.
pub const EXIT_CODE: &str = "process_exit";
/// The code of an attempt whose process was killed by a signal it was not sent by the
/// executor.
pub const SIGNAL_CODE: &str = "process_signal";
/// The code of an attempt whose program could not be started.
pub const SPAWN_FAILED_CODE: &str = "spawn_failed";
/// The code of an attempt whose `result` line was longer than the line limit.
pub const RESULT_TOO_LARGE_CODE: &str = "result_too_large";
/// The code of an attempt whose `result` line was not valid JSON.
pub const RESULT_UNREADABLE_CODE: &str = "result_unreadable";

/// A `result` line that could not be taken.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum BadResult {
    /// Cut at the line limit.
    Cut,
    /// Not valid JSON; the reader's complaint.
    Unreadable(String),
}

/// How the child's process ended.
pub(crate) struct Exit {
    pub(crate) status: Status,
    /// Why the executor stopped it, if it did.
    pub(crate) stopped: Option<Stop>,
}

/// Why the executor stopped a child.
pub(crate) enum Stop {
    /// The execution's cancel signal fired.
    Cancelled,
    /// The host refused a report for good (lease lost, execution over); the reason.
    ReportsRefused(Option<String>),
}

/// The outcome of an attempt; see the module docs for the rules.
pub(crate) fn decide(
    exit: Exit,
    declared: Option<Declared>,
    bad_result: Option<BadResult>,
    stderr_tail: &str,
    cancel: &CancelSignal,
) -> ExecutionOutcome {
    if let Some(Declared::Result(output)) = declared {
        return match validate_output(&output) {
            Ok(()) => ExecutionOutcome::Succeeded(output),
            Err(invalid) => failed(
                TaskError::new(format!("the child's output breaks the limits: {invalid}"))
                    .with_name("InvalidOutput")
                    .with_code(INVALID_OUTPUT_CODE),
                false,
            ),
        };
    }
    match exit.stopped {
        Some(Stop::Cancelled) => return ExecutionOutcome::Cancelled { reason: cancel.reason() },
        Some(Stop::ReportsRefused(reason)) => return ExecutionOutcome::Cancelled { reason },
        None => {}
    }
    if let Some(Declared::Error { error, retryable }) = declared {
        if error.code.as_deref() == Some(CANCELLED_CODE) {
            return ExecutionOutcome::Cancelled { reason: Some(error.message) };
        }
        return failed(within_limits(error), retryable);
    }
    match bad_result {
        Some(BadResult::Cut) => {
            return failed(
                TaskError::new("the child's result line was longer than the line limit")
                    .with_name("ResultTooLarge")
                    .with_code(RESULT_TOO_LARGE_CODE),
                false,
            );
        }
        Some(BadResult::Unreadable(reason)) => {
            let message = format!("the child's result line is not valid JSON: {reason}");
            return failed(
                TaskError::new(cut_text(&message, MAX_TEXT_LEN))
                    .with_name("ResultUnreadable")
                    .with_code(RESULT_UNREADABLE_CODE),
                false,
            );
        }
        None => {}
    }
    let status = match exit.status {
        Ok(status) => status,
        Err(error) => {
            let message = format!("the child could not be waited for: {error}");
            return failed(TaskError::new(message).with_name("ProcessWait"), true);
        }
    };
    if status.success() {
        return ExecutionOutcome::Succeeded(serde_json::Value::Null);
    }
    if let Some(code) = status.code() {
        let message = if stderr_tail.is_empty() {
            format!("the process exited with code {code}")
        } else {
            stderr_tail.to_owned()
        };
        let error = TaskError::new(cut_text(&message, MAX_TEXT_LEN))
            .with_name("ProcessExited")
            .with_code(EXIT_CODE)
            .with_details(json!({ "exitCode": code }));
        return failed(error, true);
    }
    let number = status.signal().unwrap_or_default();
    let name = signal_name(number);
    let mut message = format!("the process was killed by {name} (signal {number})");
    if !stderr_tail.is_empty() {
        message = format!("{message}: {stderr_tail}");
    }
    let error = TaskError::new(cut_text(&message, MAX_TEXT_LEN))
        .with_name("ProcessKilled")
        .with_code(SIGNAL_CODE)
        .with_details(json!({ "signal": name, "signalNumber": number }));
    failed(error, true)
}

/// The outcome of a program that could not be started.
pub(crate) fn spawn_failed(error: &io::Error) -> ExecutionOutcome {
    let retryable =
        !matches!(error.kind(), io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied);
    failed(
        TaskError::new(format!("the process could not be started: {error}"))
            .with_name("SpawnFailed")
            .with_code(SPAWN_FAILED_CODE),
        retryable,
    )
}

fn failed(error: TaskError, retryable: bool) -> ExecutionOutcome {
    ExecutionOutcome::Failed { error, retryable }
}

/// A child's error made storable: its message cut to the text limit, details over the limit
/// replaced by a note.
fn within_limits(mut error: TaskError) -> TaskError {
    error.message = cut_text(&error.message, MAX_TEXT_LEN);
    if validate_error(&error).is_err() {
        error.details = Some(json!({ "dropped": "the details were over the size limit" }));
    }
    error
}
