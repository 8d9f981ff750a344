//! [`Writer`]: every store write of one attempt after its start, in order: coalesced reports
//! (steps batched, progress latest-wins), heartbeats, and the final write (through the host's
//! burst writer, `crate::burst`), with the events each one emits. A write the store refuses with `LeaseLost` marks the attempt lost: the executor
//! is stopped, `lease_lost` is emitted, and nothing more is written.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tasks_core::transition::check_lease;
use tasks_core::{
    Finish, HostEventType, StoreError, StoreErrorKind, TaskRecord, TaskStatus, TaskStore, Timestamp,
};
use tokio::time::Instant;

use super::Attempt;
use super::reporter::merge_progress;
use crate::burst::FinishWriter;
use crate::inner::{Inner, lock};

/// Delays between tries of a write that must land (a final write, the last flush).
const RETRY_DELAYS: [Duration; 3] =
    [Duration::from_millis(50), Duration::from_millis(250), Duration::from_secs(1)];
/// The delay between later tries, made while the attempt's lease still runs.
const PATIENT_RETRY: Duration = Duration::from_secs(1);

/// Writes one attempt's changes.
pub(crate) struct Writer {
    pub(crate) inner: Arc<Inner>,
    pub(crate) attempt: Arc<Attempt>,
    /// When reports were last written (the flush interval counts from here).
    pub(crate) last_flush: Instant,
    /// How long each heartbeat renews the lease for.
    pub(crate) lease_for: Duration,
}

/// The event that tells how a write left a task.
pub(crate) fn event_of_end(record: &TaskRecord) -> HostEventType {
    match record.status {
        TaskStatus::Succeeded => HostEventType::TaskSucceeded,
        TaskStatus::Failed => HostEventType::TaskFailed,
        TaskStatus::Cancelled => HostEventType::TaskCancelled,
        TaskStatus::Queued if record.retry_scheduled_at.is_some() => HostEventType::TaskRetried,
        TaskStatus::Queued => HostEventType::TaskReleased,
        TaskStatus::Claimed | TaskStatus::Running => HostEventType::TaskHeartbeat,
    }
}

/// Whether a failed write may succeed when tried again.
fn is_transient(error: &StoreError) -> bool {
    !matches!(
        error.kind(),
        StoreErrorKind::LeaseLost
            | StoreErrorKind::InvalidInput
            | StoreErrorKind::Refused
            | StoreErrorKind::NotFound
            | StoreErrorKind::Unsupported
    )
}

impl Writer {
    pub(crate) fn new(inner: Arc<Inner>, attempt: Arc<Attempt>) -> Self {
        let lease_for = inner.options.lease;
        Writer { inner, attempt, last_flush: Instant::now(), lease_for }
    }

    /// Handles a failed write; `true` when it is final (lease lost, or refused for good).
    async fn failed(&mut self, doing: &str, error: &StoreError) -> bool {
        if error.kind() == StoreErrorKind::LeaseLost {
            self.lost().await;
            return true;
        }
        self.inner.emit_store_error(doing, Some(&self.attempt.id), error);
        !is_transient(error)
    }

    /// Writes the waiting reports: steps in one batch, then the merged progress, then a
    /// heartbeat if the executor asked for one. Returns whether everything was written; on a
    /// transient failure the reports wait for the next flush (steps keep their order).
    pub(crate) async fn flush(&mut self) -> bool {
        self.last_flush = Instant::now();
        let (steps, progress, heartbeat) = {
            let mut reports = lock(&self.attempt.reports);
            let mut steps = std::mem::take(&mut reports.steps);
            let dropped = std::mem::take(&mut reports.dropped_steps);
            if dropped > 0 {
                steps.push(super::budget::dropped_note(dropped, &self.inner.options));
            }
            (steps, reports.progress.take(), std::mem::take(&mut reports.heartbeat))
        };
        let mut written = true;
        if !steps.is_empty() {
            let (lease, batch) = (self.attempt.lease.clone(), steps.clone());
            let result = self
                .inner
                .store
                .call(move |store, now| store.append_steps(&lease, &batch, now))
                .await;
            match result {
                Ok(appended) => {
                    self.attempt.set_record(appended.task.clone());
                    for step in appended.steps {
                        self.inner.emit_task_with(
                            HostEventType::TaskStep,
                            &appended.task,
                            |event| {
                                event.step = Some(step);
                            },
                        );
                    }
                    self.attempt.observe(&appended.task);
                }
                Err(error) => {
                    written = false;
                    if !self.failed("appending steps", &error).await {
                        let mut reports = lock(&self.attempt.reports);
                        let newer = std::mem::replace(&mut reports.steps, steps);
                        reports.steps.extend(newer);
                    }
                }
            }
        }
        if self.attempt.is_lease_lost() {
            return false;
        }
        if let Some(update) = progress {
            let (lease, pending) = (self.attempt.lease.clone(), update.clone());
            let result = self
                .inner
                .store
                .call(move |store, now| store.set_progress(&lease, &pending, now))
                .await;
            match result {
                Ok(record) => {
                    self.tell_owed_preview(&record);
                    self.attempt.observe(&record);
                    self.attempt.set_record(record);
                }
                Err(error) => {
                    written = false;
                    if !self.failed("writing progress", &error).await {
                        let mut reports = lock(&self.attempt.reports);
                        let newer = reports.progress.take();
                        reports.progress = Some(update);
                        if let Some(newer) = newer {
                            merge_progress(&mut reports.progress, newer);
                        }
                    }
                }
            }
        }
        if heartbeat && !self.attempt.is_lease_lost() {
            self.heartbeat().await;
        }
        if !written {
            // Try again on the next beat.
            self.attempt.report_notify.notify_one();
        }
        written && !self.attempt.is_lease_lost()
    }

    /// Tells listeners the progress a paced preview held back (see `reporter`), with the record
    /// the progress write left.
    fn tell_owed_preview(&self, written: &TaskRecord) {
        let owed = {
            let mut reports = lock(&self.attempt.reports);
            let owed = reports.preview_owed;
            if owed {
                reports.last_preview = Some(Instant::now());
                // An update that came after this write's value still waits: the write that
                // carries it tells it.
                reports.preview_owed = reports.progress.is_some();
            }
            owed
        };
        if owed {
            self.inner.emit_task(HostEventType::TaskProgress, written);
        }
    }

    /// Renews the lease.
    pub(crate) async fn heartbeat(&mut self) {
        let (lease, lease_for) = (self.attempt.lease.clone(), self.lease_for);
        let result =
            self.inner.store.call(move |store, now| store.heartbeat(&lease, lease_for, now)).await;
        match result {
            Ok(record) => {
                self.inner.emit_task(HostEventType::TaskHeartbeat, &record);
                self.attempt.observe(&record);
                self.attempt.set_record(record);
            }
            Err(error) => {
                self.failed("renewing a lease", &error).await;
            }
        }
    }

    /// The lease is gone: stop the executor, tell listeners (with the task as it is now).
    pub(crate) async fn lost(&mut self) {
        if !self.attempt.mark_lease_lost() {
            return;
        }
        let id = self.attempt.id.clone();
        let current = match self.inner.store.call(move |store, _| store.get(&id)).await {
            Ok(Some(record)) => record,
            _ => self.attempt.record(),
        };
        let message = format!(
            "runner {} lost the lease of task {} during attempt {}",
            self.inner.runner_id,
            self.attempt.id,
            self.attempt.record().attempt
        );
        self.inner.emit_task_with(HostEventType::TaskLeaseLost, &current, |event| {
            event.message = Some(message);
        });
    }

    /// A write that must land: tried again on transient failures. `Err(Some(error))` when the
    /// store refused it for good (the caller may write something else), `Err(None)` when the
    /// lease is lost or the store stayed unavailable.
    pub(crate) async fn must_write<T, F>(
        &mut self,
        doing: &str,
        call: F,
    ) -> Result<T, Option<StoreError>>
    where
        F: Fn(&dyn TaskStore, Timestamp) -> Result<T, StoreError> + Clone + Send + 'static,
        T: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        self.must_land(doing, move || {
            let (inner, call) = (Arc::clone(&inner), call.clone());
            async move { inner.store.call(call).await }
        })
        .await
    }

    /// A final write (complete, fail, acknowledge a cancel) that must land, made through the
    /// host's burst writer; answers as [`Writer::must_write`].
    pub(crate) async fn must_finish(
        &mut self,
        doing: &str,
        finish: Finish,
    ) -> Result<TaskRecord, Option<StoreError>> {
        let inner = Arc::clone(&self.inner);
        self.must_land(doing, move || {
            let (inner, finish) = (Arc::clone(&inner), finish.clone());
            async move { FinishWriter::write(&inner, finish).await }
        })
        .await
    }

    /// Makes `write` until it lands, is refused for good, or the tries run out.
    async fn must_land<T, F, Fut>(
        &mut self,
        doing: &str,
        mut write: F,
    ) -> Result<T, Option<StoreError>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut tries = 0;
        loop {
            let error = match write().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if self.failed(doing, &error).await {
                return Err((error.kind() != StoreErrorKind::LeaseLost).then_some(error));
            }
            let Some(delay) = self.retry_delay(&mut tries) else { return Err(None) };
            tokio::time::sleep(delay).await;
        }
    }

    /// How long to wait before trying a write that must land once more, after `tries` failed
    /// tries (counted here, starting from 0): the quick delays first; past them, keep trying
    /// while the lease is ours: a store back before it runs out (a database restarting) takes
    /// the write, and the work is not done again. `None` once the lease has run out: recovery
    /// will give the task another attempt.
    pub(crate) fn retry_delay(&self, tries: &mut usize) -> Option<Duration> {
        let quick = RETRY_DELAYS.get(*tries).copied();
        *tries = tries.saturating_add(1);
        quick.or_else(|| self.lease_still_ours().then_some(PATIENT_RETRY))
    }

    /// Whether the attempt's lease, as the store last renewed it, still runs by the host's
    /// clock: until then no other runner can take the task, so a write may still land.
    fn lease_still_ours(&self) -> bool {
        // The record is the last one a write under this lease returned, so it is claimed or
        // running and holds this lease's token: only the expiry can have changed.
        check_lease(&self.attempt.record(), &self.attempt.lease.token, self.inner.store.now())
            .is_ok()
    }

    /// Gives back the task (queued again at once, the attempt given back), telling its event
    /// from the blocking thread; the record written, or `None` when the release did not land.
    pub(crate) async fn release(&mut self) -> Option<TaskRecord> {
        let lease = self.attempt.lease.clone();
        let inner = Arc::clone(&self.inner);
        self.must_write("releasing a task", move |store, now| {
            let record = store.release(&lease, now)?;
            inner.emit_task(event_of_end(&record), &record);
            Ok(record)
        })
        .await
        .ok()
    }

    /// Gives back a task that never ran (the host began to stop, or its start failed).
    pub(crate) async fn release_unstarted(&mut self) {
        if self.release().await.is_some() && !self.inner.is_stopping() {
            self.inner.waker.wake();
        }
    }
}
