//! [`AttemptReporter`]: the [`TaskReporter`] an executor reports to. Calls never block and
//! never touch the store: they validate the report, queue it for the supervisor's next write
//! (progress merged, latest wins; steps in order) and wake it.
//!
//! A progress report is also told to in-process listeners at once, as a preview: the snapshot
//! of the last written record with the pending progress applied, carrying that record's
//! revision (the coalesced write that follows raises it). Step events wait for their write,
//! since only the store numbers steps.
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
            self.inner.events.has_listeners().then(|| {
                let mut record = reports.record.clone();
                if let Some(pending) = &reports.progress {
                    if let Some(percent) = pending.percent {
                        record.progress_percent = Some(percent);
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
