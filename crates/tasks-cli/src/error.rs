//! [`CliError`]: a failure of a command, as one line for people and an [`ExitStatus`] for
//! scripts, and the conversions from the errors of the crates the command uses.
//!
//! Exit statuses (also in `tasks --help` and the README):
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the store or a task refused or failed (a finished task cannot be cancelled...) |
//! | 2 | bad usage: arguments, the config file, JSON input, an unknown kind, a bad URL |
//! | 3 | the store cannot be reached (server down, no database file, missing directory) |
//! | 4 | no task with that id |
//! | 5 | `tasks watch ID`: the task finished, but did not succeed |
//! | 130 | interrupted (a second Ctrl-C while a worker drains) |

use std::fmt;
use std::process::ExitCode;

use tasks::core::{StoreError, StoreErrorKind};
use tasks::host::{HostError, HostErrorKind};
use tasks::live::{LiveError, LiveErrorKind};
use tasks::{StoreFactoryError, StoreFactoryErrorKind};

/// What kind of failure ended the command; each has its exit status.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ExitStatus {
    /// 1: the store or a task refused or failed.
    Runtime,
    /// 2: bad arguments, config, input, kind or URL.
    Usage,
    /// 3: the store cannot be reached.
    Unavailable,
    /// 4: no task with that id.
    NotFound,
    /// 5: a watched task finished without succeeding.
    TaskFailed,
    /// 130: interrupted.
    Interrupted,
}

impl ExitStatus {
    /// The process exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            ExitStatus::Runtime => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Unavailable => 3,
            ExitStatus::NotFound => 4,
            ExitStatus::TaskFailed => 5,
            ExitStatus::Interrupted => 130,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}

/// A failed command: a message for people (one line) and its exit status.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) status: ExitStatus,
    pub(crate) message: String,
}

impl CliError {
    pub(crate) fn new(status: ExitStatus, message: impl Into<String>) -> Self {
        CliError { status, message: message.into() }
    }

    /// Bad usage (exit status 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        CliError::new(ExitStatus::Usage, message)
    }

    /// A runtime failure (exit status 1).
    pub(crate) fn runtime(message: impl Into<String>) -> Self {
        CliError::new(ExitStatus::Runtime, message)
    }

    /// The same error with `context` in front of its message.
    pub(crate) fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The message on one line: a multi-line message from a dependency is joined.
    pub(crate) fn one_line(&self) -> String {
        self.message
            .split('\n')
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// An error's message followed by the messages of its causes that it does not already hold
/// (`cannot connect ...: error connecting to server: Connection refused`).
fn describe(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// The exit status for a kind of store error.
fn store_status(kind: StoreErrorKind) -> ExitStatus {
    match kind {
        StoreErrorKind::InvalidInput => ExitStatus::Usage,
        StoreErrorKind::NotFound => ExitStatus::NotFound,
        StoreErrorKind::Unavailable => ExitStatus::Unavailable,
        _ => ExitStatus::Runtime,
    }
}

impl From<StoreError> for CliError {
    fn from(error: StoreError) -> Self {
        CliError::new(store_status(error.kind()), describe(&error))
    }
}

impl From<HostError> for CliError {
    fn from(error: HostError) -> Self {
        let status = match error.kind() {
            HostErrorKind::Store(kind) => store_status(kind),
            HostErrorKind::Config | HostErrorKind::Encode => ExitStatus::Usage,
            _ => ExitStatus::Runtime,
        };
        CliError::new(status, describe(&error))
    }
}

impl From<StoreFactoryError> for CliError {
    fn from(error: StoreFactoryError) -> Self {
        let status = match error.kind() {
            StoreFactoryErrorKind::Unavailable => ExitStatus::Unavailable,
            StoreFactoryErrorKind::Schema | StoreFactoryErrorKind::Backend => ExitStatus::Runtime,
            _ => ExitStatus::Usage,
        };
        CliError::new(status, describe(&error))
    }
}

impl From<LiveError> for CliError {
    fn from(error: LiveError) -> Self {
        let status = match error.kind() {
            LiveErrorKind::InvalidQuery => ExitStatus::Usage,
            LiveErrorKind::Store(kind) => store_status(kind),
            LiveErrorKind::Host(HostErrorKind::Store(kind)) => store_status(kind),
            _ => ExitStatus::Runtime,
        };
        CliError::new(status, describe(&error))
    }
}

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> Self {
        CliError::runtime(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_distinct() {
        let all = [
            ExitStatus::Runtime,
            ExitStatus::Usage,
            ExitStatus::Unavailable,
            ExitStatus::NotFound,
            ExitStatus::TaskFailed,
            ExitStatus::Interrupted,
        ];
        let mut codes: Vec<u8> = all.iter().map(|status| status.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }

    #[test]
    fn store_errors_keep_their_meaning() {
        let missing = StoreError::NotFound { id: tasks::core::TaskId::generate() };
        assert_eq!(CliError::from(missing).status, ExitStatus::NotFound);
        let down = StoreError::Unavailable { message: "down".into(), source: None };
        assert_eq!(CliError::from(down).status, ExitStatus::Unavailable);
    }

    #[test]
    fn causes_are_named_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = StoreError::unavailable("cannot connect", io);
        assert_eq!(CliError::from(error).message, "store unavailable: cannot connect: refused");
        let error = StoreError::Unavailable { message: "down".into(), source: None };
        assert_eq!(CliError::from(error).message, "store unavailable: down");
    }

    #[test]
    fn messages_print_on_one_line() {
        let error = CliError::runtime("first\n\n  second\n");
        assert_eq!(error.one_line(), "first second");
    }
}
