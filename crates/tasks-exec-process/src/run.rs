//! [`run_attempt`]: one attempt as a child process, from spawn to outcome.
//!
//! Four things run at once in one future, so nothing can deadlock on a full pipe: writing
//! the invocation to stdin (an error such as `EPIPE` from a child that never reads it is
//! ignored), reading stdout (reports and the outcome line), reading the stderr tail, and
//! supervising the child (waiting for it; on the cancel signal, SIGTERM to its group, then
//! SIGKILL after the grace period). Once the leader has exited and been reaped, what is left
//! of its group is killed and the pipes are drained for at most [`DRAIN_TIMEOUT`] (a process
//! that left the group may hold them open). The child is always waited for, so no zombie is
//! left, and every pipe is closed when the future ends; a dropped future kills the group too.

use std::io;
use std::pin::pin;
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::Signal;
use tasks_core::{CancelHandle, CancelSignal, Execution, ExecutionOutcome};
use tokio::io::{AsyncWrite, AsyncWriteExt, BufReader};
use tokio::process::Child;

use crate::executor::ProcessConfig;
use crate::group::ProcessGroup;
use crate::outcome::{Exit, Stop, decide, spawn_failed};
use crate::output::StdoutHandler;
use crate::stderr::StderrTail;

/// How long the pipes are drained after the child exits when something outside its process
/// group still holds them open.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs one attempt of `execution` under `config`.
pub(crate) async fn run_attempt(config: &ProcessConfig, execution: Execution) -> ExecutionOutcome {
    let Execution { invocation, reporter, cancel } = execution;
    if cancel.is_cancelled() {
        return ExecutionOutcome::Cancelled { reason: cancel.reason() };
    }
    let mut input = match serde_json::to_vec(&invocation) {
        Ok(input) => input,
        Err(error) => return spawn_failed(&io::Error::other(error)),
    };
    input.push(b'\n');
    let mut child = match config.command(&invocation).spawn() {
        Ok(child) => child,
        Err(error) => return spawn_failed(&error),
    };
    let Some(group) = child.id().and_then(ProcessGroup::led_by) else {
        return spawn_failed(&io::Error::other("the child has no process id"));
    };
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return spawn_failed(&io::Error::other("the child's pipes are missing"));
    };

    let stop = CancelHandle::new();
    let mut output = StdoutHandler::new(reporter, config.limits, stop.clone());
    let mut tail = StderrTail::new(config.limits.stderr_tail_bytes);
    let exit = {
        let mut io = pin!(async {
            tokio::join!(
                write_input(stdin, &input),
                output.read_all(BufReader::with_capacity(64 * 1024, stdout)),
                tail.read_all(stderr),
            )
        });
        let stop_signal = stop.signal();
        let mut supervise =
            pin!(supervise(&mut child, &group, &cancel, &stop_signal, config.kill_grace));
        let mut io_done = false;
        let exit = loop {
            tokio::select! {
                _ = &mut io, if !io_done => io_done = true,
                exit = &mut supervise => break exit,
            }
        };
        group.kill_rest();
        if !io_done {
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, io).await;
        }
        exit
    };
    output.finish();
    decide(exit, output.declared.take(), output.bad_result.take(), &tail.text(), &cancel)
}

/// Writes the invocation and closes stdin. A child that exits or closes stdin without
/// reading is not an error of the attempt: its exit status tells how it went.
async fn write_input<W: AsyncWrite + Unpin>(mut stdin: W, input: &[u8]) {
    let _ = stdin.write_all(input).await;
    let _ = stdin.shutdown().await;
}

/// Waits for the child; on the cancel signal or the internal stop, SIGTERM to its group, and
/// SIGKILL once `grace` has passed.
async fn supervise(
    child: &mut Child,
    group: &ProcessGroup,
    cancel: &CancelSignal,
    stop: &CancelSignal,
    grace: Duration,
) -> Exit {
    let cause = tokio::select! {
        biased;
        status = child.wait() => return Exit { status, stopped: None },
        () = cancel.cancelled() => Stop::Cancelled,
        () = stop.cancelled() => Stop::ReportsRefused(stop.reason()),
    };
    group.signal(Signal::SIGTERM);
    let status = match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            group.signal(Signal::SIGKILL);
            child.wait().await
        }
    };
    Exit { status, stopped: Some(cause) }
}

/// The exit status of a child, for [`Exit`].
pub(crate) type Status = io::Result<ExitStatus>;
