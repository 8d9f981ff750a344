//! The [`TaskStore`] implementation: input validation first (so a refusal never reaches the
//! database), then the module that does the work.

use std::time::Duration;

use tasks_core::transition;
use tasks_core::{
    AppendedSteps, Capabilities, ChangeCursor, ChangePage, ClaimRequest, ClaimedStart,
    EnqueueOutcome, Finish, FinishedAndClaimed, InvalidInput, Lease, NewStep, NewTask,
    ProgressUpdate, RetentionPolicy, RetentionReport, StepQuery, StepRecord, StoreError,
    StoreWarning, TaskAggregate, TaskError, TaskFilter, TaskId, TaskListQuery, TaskRecord,
    TaskStatus, TaskStore, Timestamp,
};

use crate::enqueue::prepare;
use crate::store::{Durability, PostgresTaskStore};
use crate::worker::{Applied, not_found};

impl PostgresTaskStore {
    /// What this store offers: a change feed, transactional enqueue, wake-up notifications,
    /// and safe use by many processes.
    pub const CAPABILITIES: Capabilities = Capabilities::NONE
        .with_change_feed()
        .with_transactional_enqueue()
        .with_notifications()
        .with_multi_process();
}

fn check_lease_for(lease_for: Duration) -> Result<(), StoreError> {
    if lease_for.is_zero() {
        return Err(InvalidInput::Range { field: "lease", expected: "longer than zero" }.into());
    }
    Ok(())
}

/// Refuses a NUL character in text stored in a `text` column, which PostgreSQL cannot hold
/// (JSON documents are stored as `json` and may hold `\u0000`).
fn no_nul(field: &'static str, text: &str) -> Result<(), StoreError> {
    if text.contains('\0') {
        return Err(InvalidInput::Text {
            field,
            reason: "it holds a NUL character, which PostgreSQL cannot store",
        }
        .into());
    }
    Ok(())
}

fn check_reason(reason: Option<&str>) -> Result<(), StoreError> {
    if let Some(reason) = reason {
        tasks_core::limits::validate_text("reason", reason, false)?;
    }
    Ok(())
}

impl TaskStore for PostgresTaskStore {
    fn capabilities(&self) -> Capabilities {
        Self::CAPABILITIES
    }

    fn enqueue(&self, task: NewTask, now: Timestamp) -> Result<EnqueueOutcome, StoreError> {
        let items = prepare(vec![task], now)?;
        let mut outcomes = self.enqueue_prepared(items, now)?;
        outcomes.pop().ok_or_else(|| StoreError::Backend {
            message: "an enqueue gave no outcome".to_owned(),
            source: None,
        })
    }

    fn enqueue_batch(
        &self,
        tasks: Vec<NewTask>,
        now: Timestamp,
    ) -> Result<Vec<EnqueueOutcome>, StoreError> {
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        let items = prepare(tasks, now)?;
        self.enqueue_prepared(items, now)
    }

    fn get(&self, id: &TaskId) -> Result<Option<TaskRecord>, StoreError> {
        self.get_task(id)
    }

    fn list(&self, query: &TaskListQuery) -> Result<Vec<TaskRecord>, StoreError> {
        self.list_tasks(query)
    }

    fn aggregate(&self, filter: &TaskFilter) -> Result<TaskAggregate, StoreError> {
        self.aggregate_tasks(filter)
    }

    fn list_steps(&self, id: &TaskId, query: &StepQuery) -> Result<Vec<StepRecord>, StoreError> {
        self.steps_of(id, query)
    }

    fn claim(&self, request: &ClaimRequest, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError> {
        request.validate()?;
        no_nul("runner", &request.runner)?;
        self.claim_tasks(request, now)
    }

    fn claim_and_start(
        &self,
        request: &ClaimRequest,
        now: Timestamp,
    ) -> Result<Vec<ClaimedStart>, StoreError> {
        request.validate()?;
        no_nul("runner", &request.runner)?;
        self.claim_and_start_tasks(request, now)
    }

    fn start(&self, lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError> {
        self.worker_write(Durability::Full, lease, |record| {
            transition::start(record, &lease.token, now)
        })
    }

    fn heartbeat(
        &self,
        lease: &Lease,
        lease_for: Duration,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        check_lease_for(lease_for)?;
        self.fast_heartbeat(lease, lease_for, now)
    }

    fn set_progress(
        &self,
        lease: &Lease,
        update: &ProgressUpdate,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        transition::validate_progress(update)?;
        self.fast_progress(lease, update, now)
    }

    fn append_steps(
        &self,
        lease: &Lease,
        steps: &[NewStep],
        now: Timestamp,
    ) -> Result<AppendedSteps, StoreError> {
        for step in steps {
            transition::validate_step(step)?;
        }
        let (task, steps) = self.fast_steps(lease, steps, now)?;
        Ok(AppendedSteps { task, steps })
    }

    fn complete(
        &self,
        lease: &Lease,
        output: serde_json::Value,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        transition::validate_output(&output)?;
        self.fast_complete(lease, &output, now)
    }

    fn fail(
        &self,
        lease: &Lease,
        error: TaskError,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        transition::validate_error(&error)?;
        let record = self.worker_write(Durability::Full, lease, |record| {
            transition::fail(record, &lease.token, error.clone(), retry_at, now)
        })?;
        if record.status == TaskStatus::Queued && record.scheduled_at <= now {
            self.wake();
        }
        Ok(record)
    }

    fn acknowledge_cancel(
        &self,
        lease: &Lease,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        check_reason(reason)?;
        self.worker_write(Durability::Full, lease, |record| {
            transition::acknowledge_cancel(record, &lease.token, reason, now)
        })
    }

    fn release(&self, lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError> {
        let record = self.worker_write(Durability::Full, lease, |record| {
            transition::release(record, &lease.token, now)
        })?;
        if record.status == TaskStatus::Queued {
            self.wake();
        }
        Ok(record)
    }

    fn cancel(
        &self,
        id: &TaskId,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        check_reason(reason)?;
        let (record, _) = self.write_one(Durability::Full, id, not_found, |record| {
            let next = transition::request_cancel(record, reason, now)
                .map_err(|refusal| StoreError::refused(&record.id, refusal))?;
            Ok(if next.revision == record.revision {
                Applied::Unchanged
            } else {
                Applied::Changed(Box::new(next), Vec::new())
            })
        })?;
        Ok(record)
    }

    fn retry(&self, id: &TaskId, now: Timestamp) -> Result<TaskRecord, StoreError> {
        self.retry_task(id, now)
    }

    fn start_batch(
        &self,
        leases: &[Lease],
        now: Timestamp,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        self.start_leases(leases, now)
    }

    fn finish_batch(
        &self,
        finishes: &[Finish],
        now: Timestamp,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        self.finish_leases(finishes, now)
    }

    fn finish_and_claim(
        &self,
        finishes: &[Finish],
        request: &ClaimRequest,
        now: Timestamp,
    ) -> Result<FinishedAndClaimed, StoreError> {
        request.validate()?;
        no_nul("runner", &request.runner)?;
        self.finish_and_claim_tasks(finishes, request, now)
    }

    fn recover_expired(&self, limit: u32, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError> {
        self.recover(limit, now)
    }

    fn mark_stale(
        &self,
        silent_for: Duration,
        reason: &str,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        tasks_core::limits::validate_text("reason", reason, true)?;
        no_nul("reason", reason)?;
        self.stale(silent_for, reason, limit, now)
    }

    fn compact(
        &self,
        policy: &RetentionPolicy,
        now: Timestamp,
    ) -> Result<RetentionReport, StoreError> {
        self.compact_store(policy, now)
    }

    fn read_changes(
        &self,
        after: Option<&ChangeCursor>,
        limit: u32,
    ) -> Result<ChangePage, StoreError> {
        self.read_feed(after, limit)
    }

    fn change_cursor(&self) -> Result<ChangeCursor, StoreError> {
        self.feed_end()
    }

    fn warnings(&self, _now: Timestamp) -> Result<Vec<StoreWarning>, StoreError> {
        self.find_warnings()
    }
}
