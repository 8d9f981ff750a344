//! The child side for Rust programs: [`run`] runs a [`TaskHandler`] (the very trait the
//! in-process executor runs) inside a child process started by a
//! [`ProcessExecutor`](crate::ProcessExecutor).
//!
//! ```no_run
//! use serde_json::{Value, json};
//! use tasks_exec_inproc::{TaskContext, TaskFailure, handler_fn};
//!
//! fn main() -> std::process::ExitCode {
//!     tasks_exec_process::child::run(handler_fn(|input: Value, ctx: TaskContext| async move {
//!         ctx.step("working")?;
//!         Ok::<_, TaskFailure>(json!({ "echo": input }))
//!     }))
//! }
//! ```
//!
//! What it does: reads the invocation (one JSON document) from stdin to its end; builds a
//! [`TaskContext`](tasks_exec_inproc::TaskContext) whose reports are written to stdout as
//! protocol lines; runs the handler through [`run_handler`] (the in-process executor's own
//! attempt runner: input decoding, panics caught, output encoding); writes one `result` or
//! `error` line; and returns [`ExitCode::SUCCESS`], since the outcome travels on the line.
//!
//! The runtime: a tokio current-thread runtime with I/O and timers enabled. A handler written
//! for the in-process executor runs on the host's tokio runtime and may use `tokio::time`,
//! `tokio::fs` or `spawn_blocking`; a bare `block_on` would make those panic, so the child
//! side uses tokio too. One thread is enough for one attempt; `block_in_place`, which needs
//! the multi-thread runtime, is the one tokio call a child handler cannot make.
//!
//! Cancellation: SIGTERM (and SIGINT, for a program run by hand) fires the context's cancel
//! signal through `tokio::signal`, without `unsafe`. The handler sees it like in-process
//! cancellation and may return; the executor sends SIGKILL once its grace period is over.
//!
//! Anything else the program prints on stdout becomes a `log` step, and its stderr is kept as
//! the error message if it exits non-zero, so `println!` and `eprintln!` stay usable.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use tasks_core::transition::{CANCELLED_CODE, validate_progress, validate_step};
use tasks_core::{
    CancelHandle, Execution, ExecutionOutcome, NewStep, ProgressUpdate, ReportError, TaskError,
    TaskInvocation, TaskReporter,
};
use tasks_exec_inproc::{TaskHandler, run_handler};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::protocol::{ErrorMessage, Message, ResultMessage};

/// The code of an attempt whose stdin did not hold a valid invocation.
pub const INVALID_INVOCATION_CODE: &str = "invalid_invocation";

/// Runs `handler` for the invocation on stdin and writes its outcome on stdout; returns the
/// exit code for `main` (always success: the outcome is on the last line).
pub fn run<H: TaskHandler>(handler: H) -> ExitCode {
    let outcome = match read_invocation() {
        Ok(invocation) => match runtime() {
            Ok(runtime) => {
                let outcome = runtime.block_on(attempt(&handler, invocation));
                // A blocking task the handler left running must not hold the outcome back.
                runtime.shutdown_background();
                outcome
            }
            Err(error) => failed(format!("the child's runtime did not start: {error}"), "Runtime"),
        },
        Err(message) => ExecutionOutcome::Failed {
            error: TaskError::new(message)
                .with_name("InvalidInvocation")
                .with_code(INVALID_INVOCATION_CODE),
            retryable: false,
        },
    };
    let line = match outcome {
        ExecutionOutcome::Succeeded(output) => Message::Result(ResultMessage { output }),
        ExecutionOutcome::Failed { error, retryable } => {
            Message::Error(ErrorMessage::new(error, retryable))
        }
        ExecutionOutcome::Cancelled { reason } => {
            let reason = reason.unwrap_or_else(|| "cancelled".to_owned());
            let error = TaskError::new(reason).with_name("TaskCancelled").with_code(CANCELLED_CODE);
            Message::Error(ErrorMessage::new(error, false))
        }
        other => Message::Error(ErrorMessage::new(TaskError::new(format!("{other:?}")), true)),
    };
    // Nobody is left to tell if stdout is gone: the executor then sees no outcome line.
    let _ = write_line(&line);
    ExitCode::SUCCESS
}

/// The invocation on stdin, or why there is none.
fn read_invocation() -> Result<TaskInvocation, String> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|error| format!("stdin could not be read: {error}"))?;
    serde_json::from_slice(&input)
        .map_err(|error| format!("stdin is not a task invocation: {error}"))
}

fn failed(message: String, name: &str) -> ExecutionOutcome {
    ExecutionOutcome::Failed { error: TaskError::new(message).with_name(name), retryable: true }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// Runs the handler, with SIGTERM and SIGINT firing its cancel signal.
async fn attempt<H: TaskHandler>(handler: &H, invocation: TaskInvocation) -> ExecutionOutcome {
    let cancel = CancelHandle::new();
    // The handlers are installed before the handler runs, so a SIGTERM sent as soon as its
    // first report arrives already fires the cancel signal.
    let signals = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
    let execution = Execution {
        invocation,
        reporter: Arc::new(StdoutReporter::default()),
        cancel: cancel.signal(),
    };
    let mut run = std::pin::pin!(run_handler(handler, execution));
    tokio::select! {
        outcome = &mut run => return outcome,
        () = cancel_on_signals(signals, cancel) => {}
    }
    run.await
}

/// Resolves once SIGTERM or SIGINT arrived and fired `cancel`. When the signals could not be
/// watched it never resolves, and SIGTERM keeps its default action: the process ends at once.
async fn cancel_on_signals(
    signals: (std::io::Result<Signal>, std::io::Result<Signal>),
    cancel: CancelHandle,
) {
    let (Ok(mut term), Ok(mut interrupt)) = signals else {
        return std::future::pending().await;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    };
    cancel.cancel(format!("the process received {name}"));
}

/// Writes reports to stdout as protocol lines, checking them first as the host would, so a
/// handler sees the same errors in a child as in process.
#[derive(Default)]
struct StdoutReporter {
    closed: AtomicBool,
}

impl StdoutReporter {
    fn send(&self, message: &Message) -> Result<(), ReportError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(ReportError::Closed);
        }
        write_line(message).map_err(|_| {
            // The executor is gone (EPIPE): the handler may as well stop.
            self.closed.store(true, Ordering::SeqCst);
            ReportError::Closed
        })
    }
}

impl TaskReporter for StdoutReporter {
    fn set_progress(&self, update: ProgressUpdate) -> Result<(), ReportError> {
        validate_progress(&update)?;
        self.send(&Message::Progress(update))
    }

    fn append_step(&self, step: NewStep) -> Result<(), ReportError> {
        validate_step(&step)?;
        self.send(&Message::Step(step))
    }

    fn heartbeat(&self) -> Result<(), ReportError> {
        self.send(&Message::Heartbeat)
    }
}

/// Writes one message as one line, in one write under stdout's lock, so it never interleaves
/// with the program's own `println!`.
fn write_line(message: &impl Serialize) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(message)?;
    line.push(b'\n');
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&line)?;
    stdout.flush()
}
