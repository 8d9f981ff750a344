//! [`Supervisor`]: the loop around a running executor. It writes the attempt's reports on the
//! flush beat, renews the lease on the heartbeat, enforces the kind's timeout, and once the
//! attempt is stopped (cancel, timeout, lost lease, stopping host) gives the executor the
//! cancel grace to end before it stops waiting.

use std::sync::Arc;
use std::time::Duration;

use tasks_core::ExecutionOutcome;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, sleep_until};

use super::StopCause;
use super::writes::Writer;
use crate::registration::HandlerRegistration;

/// How an execution ended, as far as the host saw.
#[derive(Debug)]
pub(crate) enum Ending {
    /// The executor returned.
    Returned(ExecutionOutcome),
    /// The executor's future panicked (an executor that does not catch its handler's panics).
    Panicked(String),
    /// The executor did not end within the cancel grace and was abandoned.
    Abandoned,
}

/// Watches one running execution.
pub(crate) struct Supervisor<'a> {
    writer: &'a mut Writer,
    registration: &'a HandlerRegistration,
}

/// An instant far enough away to stand for "never" in a `select!` branch that is disabled.
fn never() -> Instant {
    Instant::now() + Duration::from_secs(365 * 24 * 3600)
}

impl<'a> Supervisor<'a> {
    pub(crate) fn new(writer: &'a mut Writer, registration: &'a HandlerRegistration) -> Self {
        Supervisor { writer, registration }
    }

    /// Runs until the execution ends or is abandoned.
    pub(crate) async fn run(self, mut handle: JoinHandle<ExecutionOutcome>) -> Ending {
        let options = &self.writer.inner.options;
        let lease_for = self.registration.lease.unwrap_or(options.lease);
        self.writer.lease_for = lease_for;
        // A kind's own lease may be shorter than the runner's: beat at least thrice per lease.
        let beat = options.heartbeat.min(lease_for / 3).max(Duration::from_millis(1));
        let mut heartbeat = tokio::time::interval_at(Instant::now() + beat, beat);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let flush_every = options.progress_flush_interval;
        let grace = options.cancel_grace;
        let attempt = Arc::clone(&self.writer.attempt);
        let mut timeout_at = self.registration.timeout.map(|timeout| Instant::now() + timeout);
        let mut flush_at: Option<Instant> = None;
        let mut grace_at: Option<Instant> = None;
        loop {
            let lost = attempt.is_lease_lost();
            if grace_at.is_none() && (lost || attempt.cause().is_some()) {
                grace_at = Some(Instant::now() + grace);
            }
            tokio::select! {
                joined = &mut handle => {
                    return match joined {
                        Ok(outcome) => Ending::Returned(outcome),
                        Err(error) if error.is_panic() => {
                            Ending::Panicked(panic_text(error.into_panic().as_ref()))
                        }
                        Err(_) => Ending::Abandoned,
                    };
                }
                () = attempt.stop_notify.notified() => {}
                () = sleep_until(grace_at.unwrap_or_else(never)), if grace_at.is_some() => {
                    // The executor ignored its signal: stop waiting. Aborting drops its future at
                    // its next await; a handler blocking a thread cannot be stopped from here.
                    handle.abort();
                    return Ending::Abandoned;
                }
                () = sleep_until(timeout_at.unwrap_or_else(never)), if timeout_at.is_some() => {
                    timeout_at = None;
                    attempt.stop(StopCause::Timeout);
                }
                () = attempt.report_notify.notified(), if flush_at.is_none() && !lost => {
                    flush_at = Some((self.writer.last_flush + flush_every).max(Instant::now()));
                }
                () = sleep_until(flush_at.unwrap_or_else(never)), if flush_at.is_some() && !lost => {
                    flush_at = None;
                    self.writer.flush().await;
                }
                _ = heartbeat.tick(), if !lost => {
                    self.writer.heartbeat().await;
                }
            }
        }
    }
}

/// The text of a panic payload.
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-text payload".to_owned()
    }
}
