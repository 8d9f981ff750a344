//! [`Counting`]: a store around another that counts the task reads (`get`) and feed reads
//! (`read_changes`) made through it, to tell how much work the hub did, and forwards
//! everything else.

#![allow(unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tasks_core::{
    AppendedSteps, Capabilities, ChangeCursor, ChangePage, ClaimRequest, EnqueueOutcome, Finish,
    Lease, NewStep, NewTask, ProgressUpdate, RetentionPolicy, RetentionReport, StepQuery,
    StepRecord, StoreError, StoreWarning, TaskAggregate, TaskError, TaskFilter, TaskId,
    TaskListQuery, TaskRecord, TaskStore, Timestamp,
};

/// Counts `get` and `read_changes` calls; forwards every call to the store inside.
pub struct Counting {
    inner: Arc<dyn TaskStore>,
    gets: AtomicUsize,
    feed_reads: AtomicUsize,
}

impl Counting {
    pub fn new(inner: Arc<dyn TaskStore>) -> Self {
        Counting { inner, gets: AtomicUsize::new(0), feed_reads: AtomicUsize::new(0) }
    }

    /// How many tasks were read one by one so far.
    pub fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }

    /// How many pages of the change feed were read so far.
    pub fn feed_reads(&self) -> usize {
        self.feed_reads.load(Ordering::SeqCst)
    }
}

macro_rules! forward {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $(fn $name(&self, $($arg: $ty),*) -> $ret { self.inner.$name($($arg),*) })*
    };
}

impl TaskStore for Counting {
    fn get(&self, id: &TaskId) -> Result<Option<TaskRecord>, StoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id)
    }
    fn read_changes(
        &self,
        after: Option<&ChangeCursor>,
        limit: u32,
    ) -> Result<ChangePage, StoreError> {
        self.feed_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.read_changes(after, limit)
    }
    forward! {
        capabilities() -> Capabilities;
        enqueue(task: NewTask, now: Timestamp) -> Result<EnqueueOutcome, StoreError>;
        enqueue_batch(tasks: Vec<NewTask>, now: Timestamp) -> Result<Vec<EnqueueOutcome>, StoreError>;
        list(query: &TaskListQuery) -> Result<Vec<TaskRecord>, StoreError>;
        aggregate(filter: &TaskFilter) -> Result<TaskAggregate, StoreError>;
        list_steps(id: &TaskId, query: &StepQuery) -> Result<Vec<StepRecord>, StoreError>;
        claim(request: &ClaimRequest, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError>;
        start(lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError>;
        heartbeat(lease: &Lease, lease_for: Duration, now: Timestamp) -> Result<TaskRecord, StoreError>;
        set_progress(lease: &Lease, update: &ProgressUpdate, now: Timestamp) -> Result<TaskRecord, StoreError>;
        append_steps(lease: &Lease, steps: &[NewStep], now: Timestamp) -> Result<AppendedSteps, StoreError>;
        complete(lease: &Lease, output: serde_json::Value, now: Timestamp) -> Result<TaskRecord, StoreError>;
        fail(lease: &Lease, error: TaskError, retry_at: Option<Timestamp>, now: Timestamp) -> Result<TaskRecord, StoreError>;
        acknowledge_cancel(lease: &Lease, reason: Option<&str>, now: Timestamp) -> Result<TaskRecord, StoreError>;
        release(lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError>;
        cancel(id: &TaskId, reason: Option<&str>, now: Timestamp) -> Result<TaskRecord, StoreError>;
        retry(id: &TaskId, now: Timestamp) -> Result<TaskRecord, StoreError>;
        start_batch(leases: &[Lease], now: Timestamp) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError>;
        finish_batch(finishes: &[Finish], now: Timestamp) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError>;
        recover_expired(limit: u32, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError>;
        mark_stale(silent_for: Duration, reason: &str, limit: u32, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError>;
        compact(policy: &RetentionPolicy, now: Timestamp) -> Result<RetentionReport, StoreError>;
        change_cursor() -> Result<ChangeCursor, StoreError>;
        warnings(now: Timestamp) -> Result<Vec<StoreWarning>, StoreError>;
    }
}
