//! One attempt of one task on this host, from its claim to its last write.
//!
//! - [`Attempt`] (here): the state the attempt's parts share: its lease, its cancellation
//!   handle and why it was stopped, and the reports waiting to be written.
//! - `drive` (here): take the start the claim made, then run, supervise, finish; or give
//!   back a task it did not start, or fail one of a kind this host does not handle.
//! - `reporter`: the [`TaskReporter`](tasks_core::TaskReporter) handed to the executor;
//!   `budget`: the step limits it applies.
//! - `supervise`: the loop around a running executor (heartbeats, coalesced writes,
//!   timeout, cancellation grace).
//! - `writes`: every write after the start, in order, with the events they emit.
//! - `finish`: the final write, chosen from how the execution ended and why it was stopped,
//!   written through the host's burst writer (`crate::burst`).

mod budget;
mod finish;
mod reporter;
mod supervise;
mod writes;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tasks_core::{
    CancelHandle, CancelSignal, Execution, Finish, Lease, NewStep, ProgressUpdate, StoreError,
    StoreErrorKind, TaskError, TaskId, TaskInvocation, TaskRecord,
};
use tokio::sync::Notify;

use crate::burst::FinishWriter;
use crate::inner::{Inner, lock};
use crate::options::RunnerOptions;
use crate::registration::HandlerRegistration;

use budget::StepBudget;
pub(crate) use reporter::AttemptReporter;
pub(crate) use writes::event_of_end;

/// The error code of a task claimed by a host that has no handler for its kind.
pub const UNKNOWN_KIND_CODE: &str = "unknown_kind";
/// The error code of an attempt that ran past its kind's timeout.
pub const TIMEOUT_CODE: &str = "timeout";

/// Why the host stopped an attempt. The first cause wins.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum StopCause {
    /// A cancel was requested (by a user or a superseding task): the task ends cancelled.
    Cancel(String),
    /// The attempt ran past its timeout: it fails with code `timeout`.
    Timeout,
    /// The host is stopping: the task goes back to the queue.
    Stopping,
}

impl StopCause {
    fn reason(&self) -> &str {
        match self {
            StopCause::Cancel(reason) => reason,
            StopCause::Timeout => "the attempt timed out",
            StopCause::Stopping => "the host is stopping",
        }
    }
}

/// Reports waiting to be written, the step limits new steps are admitted under, and the last
/// record a write returned.
#[derive(Debug)]
pub(crate) struct Reports {
    pub(crate) record: TaskRecord,
    pub(crate) progress: Option<ProgressUpdate>,
    pub(crate) steps: Vec<NewStep>,
    /// Steps dropped over the step limits since the last batch (see `budget`).
    pub(crate) dropped_steps: u64,
    /// The step limits the reporter applies to new steps.
    pub(crate) budget: StepBudget,
    pub(crate) heartbeat: bool,
    pub(crate) closed: bool,
    /// When listeners were last told a progress preview (see `reporter`).
    pub(crate) last_preview: Option<tokio::time::Instant>,
    /// A progress update was held back by the event interval: the next progress write tells it.
    pub(crate) preview_owed: bool,
}

/// What the parts of one attempt share.
#[derive(Debug)]
pub(crate) struct Attempt {
    pub(crate) id: TaskId,
    pub(crate) kind: String,
    /// The attempt number this claim started.
    pub(crate) number: u32,
    pub(crate) lease: Lease,
    cancel: CancelHandle,
    cause: Mutex<Option<StopCause>>,
    lease_lost: AtomicBool,
    /// Whether the attempt still holds its slot of the host's concurrency: from its launch until
    /// its execution ended (see `Inner::free_slot`).
    pub(crate) holds_slot: AtomicBool,
    /// The host's count of claims answered when the slot was freed early (see
    /// `Inner::attempt_ended`).
    pub(crate) slot_freed_at: AtomicU64,
    /// Wakes the supervisor when a stop cause is set or the lease is lost.
    pub(crate) stop_notify: Notify,
    pub(crate) reports: Mutex<Reports>,
    /// Wakes the supervisor when a report waits.
    pub(crate) report_notify: Notify,
}

impl Attempt {
    pub(crate) fn new(record: TaskRecord, lease: Lease, options: &RunnerOptions) -> Self {
        Attempt {
            id: record.id.clone(),
            kind: record.kind.clone(),
            number: record.attempt,
            lease,
            cancel: CancelHandle::new(),
            cause: Mutex::new(None),
            lease_lost: AtomicBool::new(false),
            holds_slot: AtomicBool::new(true),
            slot_freed_at: AtomicU64::new(0),
            stop_notify: Notify::new(),
            reports: Mutex::new(Reports {
                record,
                progress: None,
                steps: Vec::new(),
                dropped_steps: 0,
                budget: StepBudget::new(options, tokio::time::Instant::now()),
                heartbeat: false,
                closed: false,
                last_preview: None,
                preview_owed: false,
            }),
            report_notify: Notify::new(),
        }
    }

    pub(crate) fn signal(&self) -> CancelSignal {
        self.cancel.signal()
    }

    /// Stops the attempt for `cause` unless it was already stopped; tells the executor.
    pub(crate) fn stop(&self, cause: StopCause) -> bool {
        {
            let mut slot = lock(&self.cause);
            if slot.is_some() {
                return false;
            }
            self.cancel.cancel(cause.reason());
            *slot = Some(cause);
        }
        self.stop_notify.notify_one();
        true
    }

    pub(crate) fn cause(&self) -> Option<StopCause> {
        lock(&self.cause).clone()
    }

    /// Marks the lease lost (the first time only: returns whether this call did); the executor
    /// is told to stop and further reports are refused.
    pub(crate) fn mark_lease_lost(&self) -> bool {
        if self.lease_lost.swap(true, Ordering::SeqCst) {
            return false;
        }
        self.cancel.cancel("the runner lost the task's lease");
        self.stop_notify.notify_one();
        true
    }

    pub(crate) fn is_lease_lost(&self) -> bool {
        self.lease_lost.load(Ordering::SeqCst)
    }

    /// The last record a write returned.
    pub(crate) fn record(&self) -> TaskRecord {
        lock(&self.reports).record.clone()
    }

    pub(crate) fn set_record(&self, record: TaskRecord) {
        let mut reports = lock(&self.reports);
        // Writes of one attempt are sequential, but keep the newest copy whatever happens.
        if record.revision >= reports.record.revision {
            reports.record = record;
        }
    }

    /// A cancel request seen on a record this attempt wrote stops the attempt.
    pub(crate) fn observe(&self, record: &TaskRecord) {
        if record.cancel_requested_at.is_some() {
            let reason = record
                .error
                .as_ref()
                .filter(|error| {
                    error.code.as_deref() == Some(tasks_core::transition::CANCELLED_CODE)
                })
                .map_or_else(|| "cancel requested".to_owned(), |error| error.message.clone());
            self.stop(StopCause::Cancel(reason));
        }
    }
}

/// Frees the attempt's slot however the driver ends (even by a panic).
struct EndGuard {
    inner: Arc<Inner>,
    attempt: Arc<Attempt>,
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.inner.attempt_ended(&self.attempt);
    }
}

/// What the claim hands an attempt: the store's answer to the start it made with the claim,
/// or word not to run the task.
#[derive(Debug)]
pub(crate) enum Start {
    /// The store's answer to starting the claimed task (`claim_and_start`).
    Started(Box<Result<TaskRecord, StoreError>>),
    /// Not to run: the host began to stop, or it has no handler for the task's kind.
    NotStarted,
}

/// Runs one claimed task to its end on this host.
pub(crate) async fn drive(
    inner: Arc<Inner>,
    attempt: Arc<Attempt>,
    registration: Option<Arc<HandlerRegistration>>,
    start: Start,
) {
    let guard = EndGuard { inner, attempt };
    let (inner, attempt) = (&guard.inner, &guard.attempt);
    let Some(registration) = registration else {
        fail_unknown_kind(inner, attempt).await;
        return;
    };
    let mut finisher = writes::Writer::new(Arc::clone(inner), Arc::clone(attempt));
    let answer = match start {
        Start::Started(answer) => *answer,
        // Claimed just as the host began to stop: give it back.
        Start::NotStarted => {
            finisher.release_unstarted().await;
            return;
        }
    };
    let started = match answer {
        Ok(record) => record,
        Err(error) if error.kind() == StoreErrorKind::LeaseLost => {
            finisher.lost().await;
            return;
        }
        Err(error) => {
            inner.emit_store_error("starting a task", Some(&attempt.id), &error);
            finisher.release_unstarted().await;
            return;
        }
    };
    attempt.set_record(started.clone());
    attempt.observe(&started);
    let execution = Execution {
        invocation: TaskInvocation::from(&started),
        reporter: Arc::new(AttemptReporter::new(Arc::clone(inner), Arc::clone(attempt))),
        cancel: attempt.signal(),
    };
    let handle = tokio::spawn(registration.executor.execute(execution));
    let ending = supervise::Supervisor::new(&mut finisher, &registration).run(handle).await;
    // The execution is over: its slot may run another task while the final write is made.
    inner.free_slot(attempt);
    finisher.finish(ending, &registration).await;
}

/// Fails a task this host has no handler for: not retryable, code `unknown_kind`.
async fn fail_unknown_kind(inner: &Arc<Inner>, attempt: &Arc<Attempt>) {
    let error = TaskError::new(format!(
        "no handler for kind {:?} is registered on runner {}",
        attempt.kind, inner.runner_id
    ))
    .with_name("UnknownKind")
    .with_code(UNKNOWN_KIND_CODE);
    let finish = Finish::Fail { lease: attempt.lease.clone(), error, retry_at: None };
    if let Err(error) = FinishWriter::write(inner, finish).await {
        inner.emit_store_error("failing a task of an unknown kind", Some(&attempt.id), &error);
    }
}
