//! [`MemoryStore`]: the reference in-memory [`TaskStore`](tasks_core::TaskStore).
//!
//! Every write applies `tasks-core`'s pure transitions under one mutex, so this store is the
//! state machine and nothing more: the conformance suite and the model-based test hold other
//! stores to it. It keeps everything in memory and is fast enough for host and executor tests,
//! but it is not durable and serves one process.

mod changes;
mod claim;
mod maintenance;
mod reads;
mod writes;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tasks_core::transition;
use tasks_core::{
    AppendedSteps, Capabilities, ChangeCursor, ChangeKind, ChangePage, ClaimRequest,
    EnqueueOutcome, Finish, InvalidInput, Lease, NewStep, NewTask, ProgressUpdate, RetentionPolicy,
    RetentionReport, StepQuery, StepRecord, StoreError, TaskAggregate, TaskError, TaskFilter,
    TaskId, TaskListQuery, TaskRecord, Timestamp,
};

use changes::ChangeLog;

/// The reference in-memory store. Cheap to create; share it behind an `Arc`.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    tasks: BTreeMap<TaskId, TaskRecord>,
    steps: HashMap<TaskId, Vec<StepRecord>>,
    changes: ChangeLog,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// The capabilities every `MemoryStore` has: a change feed (one process only).
    pub const CAPABILITIES: Capabilities = Capabilities::NONE.with_change_feed();

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another thread cannot leave the state half-written: every write builds
        // the new records first and stores them after, so the data stays consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Stores a record and logs the change.
    fn put(&mut self, record: TaskRecord) {
        self.changes.push(&record.id, record.revision, ChangeKind::Updated);
        self.tasks.insert(record.id.clone(), record);
    }

    /// Deletes a task with its steps and logs the change.
    fn delete(&mut self, id: &TaskId) {
        self.steps.remove(id);
        if let Some(record) = self.tasks.remove(id) {
            self.changes.push(id, record.revision, ChangeKind::Deleted);
        }
    }

    fn put_steps(&mut self, steps: Vec<StepRecord>) {
        for step in steps {
            self.steps.entry(step.task_id.clone()).or_default().push(step);
        }
    }
}

impl tasks_core::TaskStore for MemoryStore {
    fn capabilities(&self) -> Capabilities {
        MemoryStore::CAPABILITIES
    }

    fn enqueue(&self, task: NewTask, now: Timestamp) -> Result<EnqueueOutcome, StoreError> {
        let mut outcomes = self.lock().enqueue_batch(vec![task], now)?;
        outcomes
            .pop()
            .ok_or(StoreError::Backend { message: "enqueue lost its outcome".into(), source: None })
    }

    fn enqueue_batch(
        &self,
        tasks: Vec<NewTask>,
        now: Timestamp,
    ) -> Result<Vec<EnqueueOutcome>, StoreError> {
        self.lock().enqueue_batch(tasks, now)
    }

    fn get(&self, id: &TaskId) -> Result<Option<TaskRecord>, StoreError> {
        Ok(self.lock().tasks.get(id).cloned())
    }

    fn list(&self, query: &TaskListQuery) -> Result<Vec<TaskRecord>, StoreError> {
        self.lock().list(query)
    }

    fn aggregate(&self, filter: &TaskFilter) -> Result<TaskAggregate, StoreError> {
        self.lock().aggregate(filter)
    }

    fn list_steps(&self, id: &TaskId, query: &StepQuery) -> Result<Vec<StepRecord>, StoreError> {
        self.lock().list_steps(id, query)
    }

    fn claim(&self, request: &ClaimRequest, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError> {
        self.lock().claim(request, now)
    }

    fn start(&self, lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError> {
        self.lock().worker_write(lease, |record| transition::start(record, &lease.token, now))
    }

    fn heartbeat(
        &self,
        lease: &Lease,
        lease_for: Duration,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        if lease_for.is_zero() {
            return Err(InvalidInput::Range { field: "lease", expected: "longer than zero" }.into());
        }
        self.lock().worker_write(lease, |record| {
            transition::heartbeat(record, &lease.token, lease_for, now)
        })
    }

    fn set_progress(
        &self,
        lease: &Lease,
        update: &ProgressUpdate,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        transition::validate_progress(update)?;
        self.lock().worker_write(lease, |record| {
            transition::set_progress(record, &lease.token, update, now)
        })
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
        let mut state = self.lock();
        let mut appended = Vec::new();
        let task = state.worker_write(lease, |record| {
            let (next, new_steps) = transition::append_steps(record, &lease.token, steps, now)?;
            appended = new_steps;
            Ok(next)
        })?;
        state.put_steps(appended.clone());
        Ok(AppendedSteps { task, steps: appended })
    }

    fn complete(
        &self,
        lease: &Lease,
        output: serde_json::Value,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.lock().finish(&Finish::Complete { lease: lease.clone(), output }, now)
    }

    fn fail(
        &self,
        lease: &Lease,
        error: TaskError,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.lock().finish(&Finish::Fail { lease: lease.clone(), error, retry_at }, now)
    }

    fn acknowledge_cancel(
        &self,
        lease: &Lease,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        let finish =
            Finish::AcknowledgeCancel { lease: lease.clone(), reason: reason.map(str::to_owned) };
        self.lock().finish(&finish, now)
    }

    fn start_batch(
        &self,
        leases: &[Lease],
        now: Timestamp,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        Ok(self.lock().start_batch(leases, now))
    }

    fn finish_batch(
        &self,
        finishes: &[Finish],
        now: Timestamp,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        let mut state = self.lock();
        Ok(finishes.iter().map(|finish| state.finish(finish, now)).collect())
    }

    fn retry(&self, id: &TaskId, now: Timestamp) -> Result<TaskRecord, StoreError> {
        self.lock().retry(id, now)
    }

    fn release(&self, lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError> {
        self.lock().worker_write(lease, |record| transition::release(record, &lease.token, now))
    }

    fn cancel(
        &self,
        id: &TaskId,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        if let Some(reason) = reason {
            tasks_core::limits::validate_text("reason", reason, false)?;
        }
        self.lock().cancel(id, reason, now)
    }

    fn recover_expired(&self, limit: u32, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError> {
        self.lock().recover_expired(limit, now)
    }

    fn mark_stale(
        &self,
        silent_for: Duration,
        reason: &str,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        self.lock().mark_stale(silent_for, reason, limit, now)
    }

    fn compact(
        &self,
        policy: &RetentionPolicy,
        now: Timestamp,
    ) -> Result<RetentionReport, StoreError> {
        Ok(self.lock().compact(policy, now))
    }

    fn read_changes(
        &self,
        after: Option<&ChangeCursor>,
        limit: u32,
    ) -> Result<ChangePage, StoreError> {
        self.lock().changes.read(after, limit)
    }

    fn change_cursor(&self) -> Result<ChangeCursor, StoreError> {
        Ok(self.lock().changes.cursor())
    }
}
