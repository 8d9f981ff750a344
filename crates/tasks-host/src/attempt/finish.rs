//! The end of an attempt: the last reports are written, then one final write chosen from how
//! the execution ended and why the host stopped it.
//!
//! | ending | stop cause | final write |
//! |---|---|---|
//! | output | any | `complete` (the work is done) |
//! | anything else | cancel requested | `acknowledge_cancel`: cancelled |
//! | anything else | host stopping | `release`: queued again at once, attempt given back |
//! | anything else | timeout | `fail` with code `timeout`, retried while attempts remain |
//! | failure | none | `fail`, retried with backoff when retryable and attempts remain |
//! | cancelled | none | `acknowledge_cancel` (the handler's own decision) |
//! | panic | none | `fail`, retryable |
//!
//! With a lost lease nothing is written: the task belongs to someone else now.
//!
//! `complete`, `fail` and `acknowledge_cancel` go through the host's burst writer, so the
//! final writes of attempts that end together share one `finish_batch`; each keeps its own
//! answer (a refused output becomes a non-retryable failure, a lost lease stops there).

use tasks_core::transition;
use tasks_core::{ExecutionOutcome, Finish, StoreErrorKind, TaskError, TaskStatus, limits};

use super::supervise::Ending;
use super::writes::Writer;
use super::{StopCause, TIMEOUT_CODE};
use crate::inner::lock;
use crate::registration::HandlerRegistration;

/// The code of an output the store refused (too large, too deep).
const INVALID_OUTPUT_CODE: &str = "invalid_output";
/// The code of an executor's panic the executor itself did not catch.
const PANIC_CODE: &str = "panic";

/// The final write of an attempt.
#[derive(Debug)]
enum Action {
    Complete(serde_json::Value),
    Fail { error: TaskError, retryable: bool },
    Acknowledge(Option<String>),
    Release,
}

fn decide(ending: Ending, cause: Option<StopCause>, registration: &HandlerRegistration) -> Action {
    match (ending, cause) {
        (Ending::Returned(ExecutionOutcome::Succeeded(output)), _) => Action::Complete(output),
        (_, Some(StopCause::Cancel(reason))) => Action::Acknowledge(Some(reason)),
        (_, Some(StopCause::Stopping)) => Action::Release,
        (_, Some(StopCause::Timeout)) => {
            let millis = registration.timeout.map_or(0, |timeout| timeout.as_millis());
            Action::Fail {
                error: TaskError::new(format!(
                    "the attempt ran longer than its timeout of {millis} ms"
                ))
                .with_name("TimeoutError")
                .with_code(TIMEOUT_CODE),
                retryable: true,
            }
        }
        (Ending::Returned(ExecutionOutcome::Failed { error, retryable }), None) => {
            Action::Fail { error, retryable }
        }
        (Ending::Returned(ExecutionOutcome::Cancelled { reason }), None) => {
            Action::Acknowledge(reason)
        }
        (Ending::Panicked(message), None) => Action::Fail {
            error: TaskError::new(format!("the executor panicked: {message}"))
                .with_name("Panic")
                .with_code(PANIC_CODE),
            retryable: true,
        },
        (Ending::Abandoned | Ending::Returned(_), None) => Action::Fail {
            error: TaskError::new("the execution ended without an outcome")
                .with_name("ExecutorError"),
            retryable: true,
        },
    }
}

/// Cuts an error to what the store accepts, so a huge message cannot lose the whole write.
fn storable(error: TaskError) -> TaskError {
    if transition::validate_error(&error).is_ok() {
        return error;
    }
    let mut message = error.message;
    if message.len() > limits::MAX_TEXT_LEN {
        let mut cut = limits::MAX_TEXT_LEN - 3;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str("...");
    }
    TaskError { message, details: None, ..error }
}

/// Cuts a reason to the text limit.
fn storable_reason(reason: Option<String>) -> Option<String> {
    reason.map(|reason| storable(TaskError::new(reason)).message)
}

impl Writer {
    /// Writes the last reports, then the final write for `ending`.
    pub(crate) async fn finish(&mut self, ending: Ending, registration: &HandlerRegistration) {
        if self.attempt.is_lease_lost() {
            return;
        }
        lock(&self.attempt.reports).closed = true;
        // Reports are never dropped for a passing store failure: the last flush is tried again
        // while the lease is ours, and the final write comes only after it, so a task never
        // ends with its last steps missing. Once the lease runs out nothing more is written:
        // recovery gives the task another attempt.
        let mut tries = 0;
        while !self.flush().await {
            if self.attempt.is_lease_lost() {
                return;
            }
            let Some(delay) = self.retry_delay(&mut tries) else { return };
            tokio::time::sleep(delay).await;
        }
        if self.attempt.is_lease_lost() {
            return;
        }
        let action = decide(ending, self.attempt.cause(), registration);
        self.write_final(action, registration).await;
    }

    async fn write_final(&mut self, action: Action, registration: &HandlerRegistration) {
        let lease = self.attempt.lease.clone();
        // The burst writer tells each final write's event from the blocking thread, right after
        // the store answers: before the task can be claimed again, so its next attempt's events
        // come after. A release is rare (a stopping host) and written alone, telling the same.
        let written = match action {
            Action::Complete(output) => {
                let complete = Finish::Complete { lease, output };
                match self.must_finish("completing a task", complete).await {
                    Err(Some(error)) if error.kind() == StoreErrorKind::InvalidInput => {
                        let error = TaskError::new(format!("the output was refused: {error}"))
                            .with_name("InvalidOutput")
                            .with_code(INVALID_OUTPUT_CODE);
                        let retry = Action::Fail { error, retryable: false };
                        return Box::pin(self.write_final(retry, registration)).await;
                    }
                    other => other.ok(),
                }
            }
            Action::Fail { error, retryable } => {
                let error = storable(error);
                let attempt_number = self.attempt.record().attempt;
                let delay = retryable.then(|| {
                    registration.retry.backoff.delay(attempt_number, &mut *lock(&self.inner.random))
                });
                let retry_at = delay.map(|delay| self.inner.store.now().saturating_add(delay));
                let fail = Finish::Fail { lease, error, retry_at };
                let failed = self.must_finish("failing a task", fail).await.ok();
                if let (Some(record), Some(delay)) = (&failed, delay)
                    && record.status == TaskStatus::Queued
                {
                    self.inner.waker.wake_after(delay);
                }
                failed
            }
            Action::Acknowledge(reason) => {
                let reason = storable_reason(reason);
                let acknowledge = Finish::AcknowledgeCancel { lease, reason };
                self.must_finish("acknowledging a cancel", acknowledge).await.ok()
            }
            Action::Release => self.release().await,
        };
        if let Some(record) = written {
            self.attempt.set_record(record);
        }
    }
}
