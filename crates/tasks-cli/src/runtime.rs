//! The async side of the commands that need one (demo, worker, watch): a tokio runtime, and
//! the stop signals (SIGINT, SIGTERM) as a future.

use std::future::Future;

use tokio::signal::unix::{SignalKind, signal};

use crate::error::CliError;

/// Runs `future` on a multi-threaded runtime with I/O and timers, and shuts the runtime down.
///
/// Store handles must outlive the runtime (keep a clone outside `future`): the PostgreSQL
/// client must not be dropped on a runtime thread.
pub(crate) fn block_on<T>(
    future: impl Future<Output = Result<T, CliError>>,
) -> Result<T, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tasks-cli")
        .build()
        .map_err(|err| CliError::runtime(format!("cannot start the async runtime: {err}")))?;
    runtime.block_on(future)
}

/// Which signal asked the process to stop.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum StopSignal {
    /// Ctrl-C.
    Interrupt,
    /// `kill`, a service manager, a container runtime.
    Terminate,
}

impl StopSignal {
    pub(crate) fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        }
    }
}

/// The stop signals, listened for from creation on (a signal that arrives before the first
/// `recv` is not lost).
pub(crate) struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Starts listening. Must be called inside the runtime.
    pub(crate) fn listen() -> Result<Self, CliError> {
        let install = |kind| {
            signal(kind)
                .map_err(|err| CliError::runtime(format!("cannot listen for signals: {err}")))
        };
        Ok(StopSignals {
            interrupt: install(SignalKind::interrupt())?,
            terminate: install(SignalKind::terminate())?,
        })
    }

    /// The next SIGINT or SIGTERM.
    pub(crate) async fn recv(&mut self) -> StopSignal {
        tokio::select! {
            _ = self.interrupt.recv() => StopSignal::Interrupt,
            _ = self.terminate.recv() => StopSignal::Terminate,
        }
    }
}
