//! [`Wrapped`]: a store around another that counts calls per method, can check that no call
//! (and not its drop) happens on a tokio worker thread, the way the Postgres client would
//! panic there, can ignore the kinds of a claim, to stand for a host that claims a task it has
//! no handler for, and can hold a recovery's answer back until the host has claimed again, to
//! force that interleaving.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tasks_core::{
    AppendedSteps, Capabilities, ChangeCursor, ChangePage, ClaimRequest, ClaimedStart,
    EnqueueOutcome, Finish, KindSelector, Lease, NewStep, NewTask, ProgressUpdate, RetentionPolicy,
    RetentionReport, StepQuery, StepRecord, StoreError, TaskAggregate, TaskError, TaskFilter,
    TaskId, TaskListQuery, TaskRecord, TaskStore, Timestamp,
};
use tasks_host::ClaimWaker;

/// The count of `claim_and_start` calls that claimed and started something.
pub(crate) const STARTED: &str = "claim_and_start (took tasks)";

/// Counts, checks and bends calls to the store inside.
pub(crate) struct Wrapped {
    inner: Arc<dyn TaskStore>,
    calls: Mutex<HashMap<&'static str, usize>>,
    pub(crate) claim_any_kind: bool,
    pub(crate) violations: Arc<AtomicUsize>,
    pub(crate) dropped: Arc<AtomicUsize>,
    /// When set, a recovery that requeued tasks wakes this host and returns only once the
    /// host has claimed and started a task again.
    pub(crate) claim_before_recovery_returns: OnceLock<ClaimWaker>,
    /// While closed, `finish_batch` waits at it (see [`Gate`]).
    pub(crate) finishes: Gate,
    /// While closed, `append_steps` waits at it.
    pub(crate) steps: Gate,
}

/// A gate calls wait at while it is closed; open by default.
#[derive(Default)]
pub(crate) struct Gate {
    closed: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    pub(crate) fn close(&self) {
        *self.closed.lock().unwrap_or_else(PoisonError::into_inner) = true;
    }

    pub(crate) fn open(&self) {
        *self.closed.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.opened.notify_all();
    }

    /// Waits while the gate is closed, for at most the tests' patience.
    fn pass(&self) {
        let closed = self.closed.lock().unwrap_or_else(PoisonError::into_inner);
        let _open = self
            .opened
            .wait_timeout_while(closed, super::PATIENCE, |closed| *closed)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

/// Whether this thread is a tokio worker: `block_on` refuses to run there, exactly as the
/// synchronous Postgres client does.
pub(crate) fn on_runtime_worker() -> bool {
    match tokio::runtime::Handle::try_current() {
        Err(_) => false,
        Ok(handle) => catch_unwind(AssertUnwindSafe(|| handle.block_on(async {}))).is_err(),
    }
}

impl Wrapped {
    pub(crate) fn new(inner: Arc<dyn TaskStore>) -> Self {
        Wrapped {
            inner,
            calls: Mutex::default(),
            claim_any_kind: false,
            violations: Arc::default(),
            dropped: Arc::default(),
            claim_before_recovery_returns: OnceLock::new(),
            finishes: Gate::default(),
            steps: Gate::default(),
        }
    }

    /// How many times `method` was called.
    pub(crate) fn calls(&self, method: &str) -> usize {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).get(method).copied().unwrap_or(0)
    }

    fn enter(&self, method: &'static str) {
        *self.calls.lock().unwrap_or_else(PoisonError::into_inner).entry(method).or_default() += 1;
        if on_runtime_worker() {
            self.violations.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Wrapped {
    fn drop(&mut self) {
        if on_runtime_worker() {
            self.violations.fetch_add(1, Ordering::SeqCst);
        }
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

impl TaskStore for Wrapped {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn enqueue(&self, task: NewTask, now: Timestamp) -> Result<EnqueueOutcome, StoreError> {
        self.enter("enqueue");
        self.inner.enqueue(task, now)
    }
    fn enqueue_batch(
        &self,
        tasks: Vec<NewTask>,
        now: Timestamp,
    ) -> Result<Vec<EnqueueOutcome>, StoreError> {
        self.enter("enqueue_batch");
        self.inner.enqueue_batch(tasks, now)
    }
    fn get(&self, id: &TaskId) -> Result<Option<TaskRecord>, StoreError> {
        self.enter("get");
        self.inner.get(id)
    }
    fn list(&self, query: &TaskListQuery) -> Result<Vec<TaskRecord>, StoreError> {
        self.enter("list");
        self.inner.list(query)
    }
    fn aggregate(&self, filter: &TaskFilter) -> Result<TaskAggregate, StoreError> {
        self.enter("aggregate");
        self.inner.aggregate(filter)
    }
    fn list_steps(&self, id: &TaskId, query: &StepQuery) -> Result<Vec<StepRecord>, StoreError> {
        self.enter("list_steps");
        self.inner.list_steps(id, query)
    }
    fn claim(&self, request: &ClaimRequest, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError> {
        self.enter("claim");
        if self.claim_any_kind {
            let mut request = request.clone();
            request.kinds = KindSelector::Any;
            return self.inner.claim(&request, now);
        }
        self.inner.claim(request, now)
    }
    fn claim_and_start(
        &self,
        request: &ClaimRequest,
        now: Timestamp,
    ) -> Result<Vec<ClaimedStart>, StoreError> {
        self.enter("claim_and_start");
        let items = if self.claim_any_kind {
            let mut request = request.clone();
            request.kinds = KindSelector::Any;
            self.inner.claim_and_start(&request, now)?
        } else {
            self.inner.claim_and_start(request, now)?
        };
        if !items.is_empty() {
            // Counted once the tasks are started, for a test that waits for a start.
            *self
                .calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(STARTED)
                .or_default() += 1;
        }
        Ok(items)
    }
    fn start(&self, lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError> {
        self.enter("start");
        self.inner.start(lease, now)
    }
    fn start_batch(
        &self,
        leases: &[Lease],
        now: Timestamp,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        self.enter("start_batch");
        self.inner.start_batch(leases, now)
    }
    fn finish_batch(
        &self,
        finishes: &[Finish],
        now: Timestamp,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        self.enter("finish_batch");
        self.finishes.pass();
        self.inner.finish_batch(finishes, now)
    }
    fn heartbeat(
        &self,
        lease: &Lease,
        lease_for: Duration,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.enter("heartbeat");
        self.inner.heartbeat(lease, lease_for, now)
    }
    fn set_progress(
        &self,
        lease: &Lease,
        update: &ProgressUpdate,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.enter("set_progress");
        self.inner.set_progress(lease, update, now)
    }
    fn append_steps(
        &self,
        lease: &Lease,
        steps: &[NewStep],
        now: Timestamp,
    ) -> Result<AppendedSteps, StoreError> {
        self.enter("append_steps");
        self.steps.pass();
        self.inner.append_steps(lease, steps, now)
    }
    fn complete(
        &self,
        lease: &Lease,
        output: serde_json::Value,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.enter("complete");
        self.inner.complete(lease, output, now)
    }
    fn fail(
        &self,
        lease: &Lease,
        error: TaskError,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.enter("fail");
        self.inner.fail(lease, error, retry_at, now)
    }
    fn acknowledge_cancel(
        &self,
        lease: &Lease,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.enter("acknowledge_cancel");
        self.inner.acknowledge_cancel(lease, reason, now)
    }
    fn release(&self, lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError> {
        self.enter("release");
        self.inner.release(lease, now)
    }
    fn cancel(
        &self,
        id: &TaskId,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.enter("cancel");
        self.inner.cancel(id, reason, now)
    }
    fn recover_expired(&self, limit: u32, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError> {
        self.enter("recover_expired");
        let recovered = self.inner.recover_expired(limit, now)?;
        if let Some(waker) = self.claim_before_recovery_returns.get()
            && !recovered.is_empty()
        {
            // The host starts what it claims in the claim's own call.
            let starts = || self.calls(STARTED);
            let before = starts();
            waker.wake();
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while starts() == before && std::time::Instant::now() < deadline {
                std::thread::yield_now();
            }
        }
        Ok(recovered)
    }
    fn mark_stale(
        &self,
        silent_for: Duration,
        reason: &str,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        self.enter("mark_stale");
        self.inner.mark_stale(silent_for, reason, limit, now)
    }
    fn compact(
        &self,
        policy: &RetentionPolicy,
        now: Timestamp,
    ) -> Result<RetentionReport, StoreError> {
        self.enter("compact");
        self.inner.compact(policy, now)
    }
    fn read_changes(
        &self,
        after: Option<&ChangeCursor>,
        limit: u32,
    ) -> Result<ChangePage, StoreError> {
        self.enter("read_changes");
        self.inner.read_changes(after, limit)
    }
    fn change_cursor(&self) -> Result<ChangeCursor, StoreError> {
        self.enter("change_cursor");
        self.inner.change_cursor()
    }
}
