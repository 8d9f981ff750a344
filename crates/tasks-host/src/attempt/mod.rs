//! One attempt of one task on this host, from its claim to its last write.
//!
//! - [`Attempt`] (here): the state the attempt's parts share: its lease, its cancellation
//!   handle and why it was stopped, and the reports waiting to be written.
//! - `drive` (here): start, run, supervise, finish; or fail a task of a kind this host does
//!   not handle.
//! - `reporter`: the [`TaskReporter`](tasks_core::TaskReporter) handed to the executor.
//! - `supervise`: the loop around a running executor (heartbeats, coalesced writes,
//!   timeout, cancellation grace).
//! - `writes`: every write after the start, in order, with the events they emit.
//! - `finish`: the final write, chosen from how the execution ended and why it was stopped.

mod finish;
mod reporter;
mod supervise;
mod writes;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tasks_core::{
    CancelHandle, CancelSignal, Execution, HostEventType, Lease, NewStep, ProgressUpdate,
    StoreErrorKind, TaskError, TaskId, TaskInvocation, TaskRecord,
};
use tokio::sync::Notify;

use crate::inner::{Inner, lock};
use crate::registration::HandlerRegistration;

pub(crate) use reporter::AttemptReporter;

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

/// Reports waiting to be written, and the last record a write returned.
#[derive(Debug)]
pub(crate) struct Reports {
    pub(crate) record: TaskRecord,
    pub(crate) progress: Option<ProgressUpdate>,
    pub(crate) steps: Vec<NewStep>,
    pub(crate) heartbeat: bool,
    pub(crate) closed: bool,
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
    /// Wakes the supervisor when a stop cause is set or the lease is lost.
    pub(crate) stop_notify: Notify,
    pub(crate) reports: Mutex<Reports>,
    /// Wakes the supervisor when a report waits.
    pub(crate) report_notify: Notify,
}

impl Attempt {
    pub(crate) fn new(record: TaskRecord, lease: Lease) -> Self {
        Attempt {
            id: record.id.clone(),
            kind: record.kind.clone(),
            number: record.attempt,
            lease,
            cancel: CancelHandle::new(),
            cause: Mutex::new(None),
            lease_lost: AtomicBool::new(false),
            stop_notify: Notify::new(),
            reports: Mutex::new(Reports {
                record,
                progress: None,
                steps: Vec::new(),
                heartbeat: false,
                closed: false,
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

/// Runs one claimed task to its end on this host.
pub(crate) async fn drive(
    inner: Arc<Inner>,
    attempt: Arc<Attempt>,
    registration: Option<Arc<HandlerRegistration>>,
) {
    let guard = EndGuard { inner, attempt };
    let (inner, attempt) = (&guard.inner, &guard.attempt);
    let Some(registration) = registration else {
        fail_unknown_kind(inner, attempt).await;
        return;
    };
    let mut finisher = writes::Writer::new(Arc::clone(inner), Arc::clone(attempt));
    if inner.is_stopping() {
        // Claimed just as the host began to stop: give it back untouched.
        finisher.release_unstarted().await;
        return;
    }
    let lease = attempt.lease.clone();
    let teller = Arc::clone(inner);
    let start = move |store: &dyn tasks_core::TaskStore, now| {
        let started = store.start(&lease, now)?;
        teller.emit_task(HostEventType::TaskStarted, &started);
        Ok(started)
    };
    let started = match inner.store.call(start).await {
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
    let lease = attempt.lease.clone();
    let teller = Arc::clone(inner);
    let fail = move |store: &dyn tasks_core::TaskStore, now| {
        let record = store.fail(&lease, error, None, now)?;
        teller.emit_task(writes::event_of_end(&record), &record);
        Ok(record)
    };
    match inner.store.call(fail).await {
        Ok(_) => {}
        Err(error) => {
            inner.emit_store_error("failing a task of an unknown kind", Some(&attempt.id), &error)
        }
    }
}
