//! [`ObservedStore`]: a store that tells an [`Observer`] about every call it forwards (which
//! operation, for which task, how long it took, and how it ended). The worker uses it to log its
//! worker-side writes (the fencing scenario reads them back); the network scenarios use it to
//! time every call a host makes, and to find any that blocked past its timeouts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tasks_core::{
    AppendedSteps, Capabilities, ChangeCursor, ChangePage, ClaimRequest, ClaimedStart,
    EnqueueOutcome, Finish, FinishedAndClaimed, Lease, NewStep, NewTask, ProgressUpdate,
    RetentionPolicy, RetentionReport, StepQuery, StepRecord, StoreError, StoreErrorKind,
    StoreWarning, TaskAggregate, TaskError, TaskFilter, TaskId, TaskListQuery, TaskRecord,
    TaskStore, Timestamp,
};

/// One call the store answered.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    /// The operation (`claim`, `heartbeat`...; the items of a batch as their single name).
    pub op: &'static str,
    /// The task, for calls about one task (and each item of a batch).
    pub task: Option<&'a TaskId>,
    /// How long the call took (a batch's time, for each of its items).
    pub took: Duration,
    /// How it ended.
    pub result: Result<(), StoreErrorKind>,
}

/// Told about every call.
pub trait Observer: Send + Sync {
    /// A call ended.
    fn observe(&self, call: Call<'_>);
}

/// Forwards every call to a store and tells its observer; also knows which calls are in
/// flight, so a scenario can see a call that never returns.
pub struct ObservedStore {
    inner: Arc<dyn TaskStore>,
    observer: Arc<dyn Observer>,
    next_call: AtomicU64,
    in_flight: Mutex<HashMap<u64, (&'static str, Instant)>>,
}

/// Removes a call from the in-flight set when it returns (or unwinds).
struct InFlight<'a> {
    store: &'a ObservedStore,
    call: u64,
    started: Instant,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.store.in_flight.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.call);
    }
}

impl ObservedStore {
    /// Observes `inner`.
    pub fn new(inner: Arc<dyn TaskStore>, observer: Arc<dyn Observer>) -> Self {
        ObservedStore {
            inner,
            observer,
            next_call: AtomicU64::new(0),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// The call in flight for the longest time now, and for how long.
    pub fn oldest_in_flight(&self) -> Option<(&'static str, Duration)> {
        let in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        in_flight
            .values()
            .min_by_key(|(_, started)| *started)
            .map(|(op, started)| (*op, started.elapsed()))
    }

    fn begin(&self, op: &'static str) -> InFlight<'_> {
        let call = self.next_call.fetch_add(1, Ordering::SeqCst);
        let started = Instant::now();
        self.in_flight.lock().unwrap_or_else(PoisonError::into_inner).insert(call, (op, started));
        InFlight { store: self, call, started }
    }

    fn timed<T>(
        &self,
        op: &'static str,
        task: Option<&TaskId>,
        call: impl FnOnce(&dyn TaskStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let flight = self.begin(op);
        let result = call(&*self.inner);
        let took = flight.started.elapsed();
        drop(flight);
        let ended = result.as_ref().map(|_| ()).map_err(StoreError::kind);
        self.observer.observe(Call { op, task, took, result: ended });
        result
    }

    /// Tells the observer about a claim and the start of each task it took.
    fn observe_claim(&self, took: Duration, result: Result<&[ClaimedStart], StoreErrorKind>) {
        let ended = result.map(|_| ());
        self.observer.observe(Call { op: "claim", task: None, took, result: ended });
        for item in result.unwrap_or_default() {
            let ended = item.started.as_ref().map(|_| ()).map_err(StoreError::kind);
            self.observer.observe(Call {
                op: "start",
                task: Some(&item.claimed.id),
                took,
                result: ended,
            });
        }
    }

    /// Forwards a batch and tells the observer about each item under its single name.
    fn batch<'a>(
        &self,
        ops: impl Iterator<Item = (&'static str, &'a TaskId)>,
        call: impl FnOnce(&dyn TaskStore) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError>,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        let flight = self.begin("batch");
        let result = call(&*self.inner);
        let took = flight.started.elapsed();
        drop(flight);
        let ops: Vec<(&'static str, &TaskId)> = ops.collect();
        match &result {
            Ok(items) => {
                for ((op, id), item) in ops.iter().zip(items) {
                    let ended = item.as_ref().map(|_| ()).map_err(StoreError::kind);
                    self.observer.observe(Call { op, task: Some(id), took, result: ended });
                }
            }
            Err(error) => {
                for (op, id) in &ops {
                    let ended = Err(error.kind());
                    self.observer.observe(Call { op, task: Some(id), took, result: ended });
                }
            }
        }
        result
    }
}

impl TaskStore for ObservedStore {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn enqueue(&self, task: NewTask, now: Timestamp) -> Result<EnqueueOutcome, StoreError> {
        self.timed("enqueue", None, |store| store.enqueue(task, now))
    }

    fn enqueue_batch(
        &self,
        tasks: Vec<NewTask>,
        now: Timestamp,
    ) -> Result<Vec<EnqueueOutcome>, StoreError> {
        self.timed("enqueue_batch", None, |store| store.enqueue_batch(tasks, now))
    }

    fn get(&self, id: &TaskId) -> Result<Option<TaskRecord>, StoreError> {
        self.timed("get", Some(id), |store| store.get(id))
    }

    fn list(&self, query: &TaskListQuery) -> Result<Vec<TaskRecord>, StoreError> {
        self.timed("list", None, |store| store.list(query))
    }

    fn aggregate(&self, filter: &TaskFilter) -> Result<TaskAggregate, StoreError> {
        self.timed("aggregate", None, |store| store.aggregate(filter))
    }

    fn list_steps(&self, id: &TaskId, query: &StepQuery) -> Result<Vec<StepRecord>, StoreError> {
        self.timed("list_steps", Some(id), |store| store.list_steps(id, query))
    }

    fn claim(&self, request: &ClaimRequest, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError> {
        self.timed("claim", None, |store| store.claim(request, now))
    }

    fn start(&self, lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError> {
        self.timed("start", Some(&lease.task_id), |store| store.start(lease, now))
    }

    /// Told as the claim it is, then each start as the item of a batch is.
    fn claim_and_start(
        &self,
        request: &ClaimRequest,
        now: Timestamp,
    ) -> Result<Vec<ClaimedStart>, StoreError> {
        let flight = self.begin("claim");
        let result = self.inner.claim_and_start(request, now);
        let took = flight.started.elapsed();
        drop(flight);
        self.observe_claim(took, result.as_deref().map_err(StoreError::kind));
        result
    }

    fn finish_and_claim(
        &self,
        finishes: &[Finish],
        request: &ClaimRequest,
        now: Timestamp,
    ) -> Result<FinishedAndClaimed, StoreError> {
        let flight = self.begin("batch");
        let result = self.inner.finish_and_claim(finishes, request, now);
        let took = flight.started.elapsed();
        drop(flight);
        // Each final write under its single name, then the claim, as the two calls would be told;
        // each part is told the whole call's duration. A call that failed as a whole is told as
        // failed writes and a failed claim, whichever part failed.
        let (finished, claimed): (Vec<Result<(), StoreErrorKind>>, _) = match &result {
            Ok(answer) => (
                answer
                    .finished
                    .iter()
                    .map(|item| item.as_ref().map(|_| ()).map_err(StoreError::kind))
                    .collect(),
                answer.claimed.as_deref().map_err(StoreError::kind),
            ),
            Err(error) => (vec![Err(error.kind()); finishes.len()], Err(error.kind())),
        };
        for (finish, ended) in finishes.iter().zip(finished) {
            let (op, task) = (finish.operation(), Some(&finish.lease().task_id));
            self.observer.observe(Call { op, task, took, result: ended });
        }
        self.observe_claim(took, claimed);
        result
    }

    fn heartbeat(
        &self,
        lease: &Lease,
        lease_for: Duration,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.timed("heartbeat", Some(&lease.task_id), |store| {
            store.heartbeat(lease, lease_for, now)
        })
    }

    fn set_progress(
        &self,
        lease: &Lease,
        update: &ProgressUpdate,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.timed("set_progress", Some(&lease.task_id), |store| {
            store.set_progress(lease, update, now)
        })
    }

    fn append_steps(
        &self,
        lease: &Lease,
        steps: &[NewStep],
        now: Timestamp,
    ) -> Result<AppendedSteps, StoreError> {
        self.timed("append_steps", Some(&lease.task_id), |store| {
            store.append_steps(lease, steps, now)
        })
    }

    fn complete(
        &self,
        lease: &Lease,
        output: serde_json::Value,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.timed("complete", Some(&lease.task_id), |store| store.complete(lease, output, now))
    }

    fn fail(
        &self,
        lease: &Lease,
        error: TaskError,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.timed("fail", Some(&lease.task_id), |store| store.fail(lease, error, retry_at, now))
    }

    fn acknowledge_cancel(
        &self,
        lease: &Lease,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.timed("acknowledge_cancel", Some(&lease.task_id), |store| {
            store.acknowledge_cancel(lease, reason, now)
        })
    }

    fn release(&self, lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError> {
        self.timed("release", Some(&lease.task_id), |store| store.release(lease, now))
    }

    fn cancel(
        &self,
        id: &TaskId,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.timed("cancel", Some(id), |store| store.cancel(id, reason, now))
    }

    fn retry(&self, id: &TaskId, now: Timestamp) -> Result<TaskRecord, StoreError> {
        self.timed("retry", Some(id), |store| store.retry(id, now))
    }

    fn start_batch(
        &self,
        leases: &[Lease],
        now: Timestamp,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        let ops = leases.iter().map(|lease| ("start", &lease.task_id));
        self.batch(ops, |store| store.start_batch(leases, now))
    }

    fn finish_batch(
        &self,
        finishes: &[Finish],
        now: Timestamp,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        let ops = finishes.iter().map(|finish| (finish.operation(), &finish.lease().task_id));
        self.batch(ops, |store| store.finish_batch(finishes, now))
    }

    fn recover_expired(&self, limit: u32, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError> {
        self.timed("recover_expired", None, |store| store.recover_expired(limit, now))
    }

    fn mark_stale(
        &self,
        silent_for: Duration,
        reason: &str,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        self.timed("mark_stale", None, |store| store.mark_stale(silent_for, reason, limit, now))
    }

    fn compact(
        &self,
        policy: &RetentionPolicy,
        now: Timestamp,
    ) -> Result<RetentionReport, StoreError> {
        self.timed("compact", None, |store| store.compact(policy, now))
    }

    fn read_changes(
        &self,
        after: Option<&ChangeCursor>,
        limit: u32,
    ) -> Result<ChangePage, StoreError> {
        self.timed("read_changes", None, |store| store.read_changes(after, limit))
    }

    fn change_cursor(&self) -> Result<ChangeCursor, StoreError> {
        self.timed("change_cursor", None, |store| store.change_cursor())
    }

    fn warnings(&self, now: Timestamp) -> Result<Vec<StoreWarning>, StoreError> {
        self.timed("warnings", None, |store| store.warnings(now))
    }
}

/// Whether `op` is a worker-side write (the writes a lease fences).
pub fn is_worker_write(op: &str) -> bool {
    matches!(
        op,
        "start"
            | "heartbeat"
            | "set_progress"
            | "append_steps"
            | "complete"
            | "fail"
            | "acknowledge_cancel"
            | "release"
    )
}

/// A call that ended, as a [`CallLog`] keeps it.
#[derive(Clone, Copy, Debug)]
pub struct Ended {
    /// When it ended.
    pub at: Instant,
    /// The operation.
    pub op: &'static str,
    /// How long it took.
    pub took: Duration,
    /// How it ended.
    pub result: Result<(), StoreErrorKind>,
}

/// Keeps every call that ended.
#[derive(Debug, Default)]
pub struct CallLog {
    calls: Mutex<Vec<Ended>>,
}

impl Observer for CallLog {
    fn observe(&self, call: Call<'_>) {
        let ended = Ended { at: Instant::now(), op: call.op, took: call.took, result: call.result };
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).push(ended);
    }
}

impl CallLog {
    /// The calls that ended in `[from, to)`.
    pub fn between(&self, from: Instant, to: Instant) -> Vec<Ended> {
        let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        calls.iter().filter(|call| call.at >= from && call.at < to).copied().collect()
    }
}
