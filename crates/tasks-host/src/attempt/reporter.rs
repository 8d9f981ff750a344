//! [`AttemptReporter`]: the [`TaskReporter`] an executor reports to. Calls never block and
//! never touch the store: they validate the report, queue it for the supervisor's next write
//! (progress merged, latest wins; steps in order) and wake it.
//!
//! A progress report is also told to in-process listeners, as a preview: the snapshot of the
//! last written record with the pending progress applied, carrying that record's revision (the
//! coalesced write that follows raises it). Previews are paced by
//! `RunnerOptions::progress_event_interval`: one told at once, the updates that follow within
//! the interval folded into one event the next progress write tells (with the written record),
//! so a task reporting thousands of updates a second cannot flood listeners, and the last value
//! is always told. Step events wait for their write, since only the store numbers steps.
//!
//! Steps past the host's step limits (see `budget`) are dropped here and counted; the writer
//! notes how many with the next batch.

use std::sync::Arc;

use tasks_core::transition;
use tasks_core::{HostEventType, NewStep, ProgressUpdate, ReportError, TaskReporter};

use super::{Attempt, Reports};
use crate::inner::{Inner, lock};

/// Queues an attempt's reports for its supervisor.
pub(crate) struct AttemptReporter {
    inner: Arc<Inner>,
    attempt: Arc<Attempt>,
}

impl AttemptReporter {
    pub(crate) fn new(inner: Arc<Inner>, attempt: Arc<Attempt>) -> Self {
        AttemptReporter { inner, attempt }
    }

    fn open(&self, reports: &Reports) -> Result<(), ReportError> {
        if self.attempt.is_lease_lost() {
            Err(ReportError::LeaseLost)
        } else if reports.closed {
            Err(ReportError::Closed)
        } else {
            Ok(())
        }
    }
}

/// Merges `update` into the pending progress: fields it sets win, the others stay.
pub(crate) fn merge_progress(pending: &mut Option<ProgressUpdate>, update: ProgressUpdate) {
    match pending {
        None => *pending = Some(update),
        Some(current) => {
            if update.percent.is_some() {
                current.percent = update.percent;
            }
            if update.label.is_some() {
                current.label = update.label;
            }
            if update.meta.is_some() {
                current.meta = update.meta;
            }
        }
    }
}

impl TaskReporter for AttemptReporter {
    fn set_progress(&self, update: ProgressUpdate) -> Result<(), ReportError> {
        transition::validate_progress(&update)?;
        let preview = {
            let mut reports = lock(&self.attempt.reports);
            self.open(&reports)?;
            merge_progress(&mut reports.progress, update);
            let now = tokio::time::Instant::now();
            let paced = reports.last_preview.is_some_and(|last| {
                now.duration_since(last) < self.inner.options.progress_event_interval
            });
            if paced {
                reports.preview_owed = true;
            }
            (!paced && self.inner.events.has_listeners()).then(|| {
                reports.last_preview = Some(now);
                reports.preview_owed = false;
                let mut record = reports.record.clone();
                if let Some(pending) = &reports.progress {
                    if let Some(percent) = pending.percent {
                        record.progress_percent = Some(tasks_core::limits::stored_percent(percent));
                    }
                    if let Some(label) = &pending.label {
                        record.progress_label = Some(label.clone());
                    }
                    if let Some(meta) = &pending.meta {
                        record.progress_meta = Some(meta.clone());
                    }
                }
                record
            })
        };
        self.attempt.report_notify.notify_one();
        if let Some(record) = preview {
            self.inner.emit_task(HostEventType::TaskProgress, &record);
        }
        Ok(())
    }

    fn append_step(&self, step: NewStep) -> Result<(), ReportError> {
        transition::validate_step(&step)?;
        {
            let mut reports = lock(&self.attempt.reports);
            self.open(&reports)?;
            let waiting = reports.steps.len();
            if !reports.budget.admit(waiting, tokio::time::Instant::now()) {
                // Counted, and noted with the next batch; nothing to wake the writer for.
                reports.dropped_steps += 1;
                return Ok(());
            }
            reports.steps.push(step);
        }
        self.attempt.report_notify.notify_one();
        Ok(())
    }

    fn heartbeat(&self) -> Result<(), ReportError> {
        {
            let mut reports = lock(&self.attempt.reports);
            self.open(&reports)?;
            reports.heartbeat = true;
        }
        self.attempt.report_notify.notify_one();
        Ok(())
    }
}
