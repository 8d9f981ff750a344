//! Tests of the burst writer on every store (memory, SQLite, PostgreSQL): writes that arrive
//! while a write is in flight go together in the next one; a refused item of a burst affects
//! only its task; the events of a burst come after its durable write, in the burst's order; a
//! burst that fails or panics answers each of its writes and leaves the writer usable.
//!
//! A gated store holds `finish_batch` calls until the test has queued what it wants behind
//! them, so what goes in each burst is decided by the test, not by timing. The claim that goes
//! with the next burst (`claim_with_next_burst`) is tested the same way.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use serde_json::json;
use tasks_core::{
    AppendedSteps, Capabilities, ChangeCursor, ChangePage, ClaimRequest, EnqueueOutcome, Finish,
    FinishedAndClaimed, HostEventType, Lease, LeaseToken, NewStep, NewTask, ProgressUpdate,
    RetentionPolicy, RetentionReport, StepQuery, StepRecord, StoreError, StoreErrorKind,
    TaskAggregate, TaskError, TaskFilter, TaskId, TaskListQuery, TaskRecord, TaskStatus, TaskStore,
    Timestamp,
};

use super::FinishWriter;
use tasks_exec_inproc::{TaskContext, TaskFailure, from_fn};

use crate::{HandlerRegistration, TaskHost};

/// How long a test waits for something before failing: generous for a loaded machine.
const PATIENCE: Duration = Duration::from_secs(20);

/// A store that records the tasks of every `finish_batch`, in order, and can hold them at a
/// gate.
struct Gated {
    inner: Arc<dyn TaskStore>,
    bursts: Mutex<Vec<Vec<TaskId>>>,
    /// For each call written, whether it claimed too (`finish_and_claim`).
    claimed_with: Mutex<Vec<bool>>,
    gate: Mutex<Gate>,
    changed: Condvar,
}

#[derive(Default)]
struct Gate {
    /// How many more batch calls may pass (`None`: all).
    permits: Option<usize>,
    /// How many arrived, held or not.
    arrived: usize,
    /// What the next call that passes does instead of writing.
    next: Next,
}

/// What the next batch call does.
#[derive(Clone, Copy, Default, PartialEq, Debug)]
enum Next {
    #[default]
    Write,
    /// Fails as a whole, as an unreachable store does.
    Fail,
    /// Panics, as a broken store might.
    Panic,
}

impl Gated {
    fn new(inner: Arc<dyn TaskStore>) -> Self {
        Gated {
            inner,
            bursts: Mutex::default(),
            claimed_with: Mutex::default(),
            gate: Mutex::default(),
            changed: Condvar::new(),
        }
    }

    fn gate(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds every batch call from now on.
    fn close(&self) {
        self.gate().permits = Some(0);
    }

    /// Lets one more batch call through.
    fn permit_one(&self) {
        let mut gate = self.gate();
        gate.permits = Some(gate.permits.map_or(0, |permits| permits + 1));
        self.changed.notify_all();
    }

    /// Lets every batch call through.
    fn open(&self) {
        self.gate().permits = None;
        self.changed.notify_all();
    }

    /// Makes the next batch call that passes the gate fail or panic.
    fn then(&self, next: Next) {
        self.gate().next = next;
    }

    /// Waits at the gate, then fails or panics if told to.
    fn pass_gate(&self) -> Result<(), StoreError> {
        let mut gate = self.gate();
        gate.arrived += 1;
        self.changed.notify_all();
        let (mut gate, waited) = self
            .changed
            .wait_timeout_while(gate, PATIENCE, |gate| gate.permits == Some(0))
            .unwrap_or_else(PoisonError::into_inner);
        assert!(!waited.timed_out(), "the test never let a held batch through");
        if let Some(permits) = &mut gate.permits {
            *permits -= 1;
        }
        match std::mem::take(&mut gate.next) {
            Next::Write => Ok(()),
            Next::Fail => {
                Err(StoreError::Unavailable { message: "the disk went away".into(), source: None })
            }
            Next::Panic => {
                drop(gate);
                panic!("a store that panics (on purpose, in a test)");
            }
        }
    }

    /// How many batch calls (starts or finishes) arrived.
    fn arrived(&self) -> usize {
        self.gate().arrived
    }

    /// The tasks of each burst written, in the order given to the store.
    fn bursts(&self) -> Vec<Vec<TaskId>> {
        self.bursts.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The size of each burst written.
    fn sizes(&self) -> Vec<usize> {
        self.bursts().iter().map(Vec::len).collect()
    }

    /// For each burst written, whether its call claimed too.
    fn claimed_with(&self) -> Vec<bool> {
        self.claimed_with.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Notes a burst given to the store.
    fn record(&self, finishes: &[Finish], claims: bool) {
        let ids = finishes.iter().map(|finish| finish.lease().task_id.clone()).collect();
        self.bursts.lock().unwrap_or_else(PoisonError::into_inner).push(ids);
        self.claimed_with.lock().unwrap_or_else(PoisonError::into_inner).push(claims);
    }
}

impl TaskStore for Gated {
    fn finish_batch(
        &self,
        finishes: &[Finish],
        now: Timestamp,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        self.pass_gate()?;
        self.record(finishes, false);
        self.inner.finish_batch(finishes, now)
    }

    fn finish_and_claim(
        &self,
        finishes: &[Finish],
        request: &ClaimRequest,
        now: Timestamp,
    ) -> Result<FinishedAndClaimed, StoreError> {
        self.pass_gate()?;
        self.record(finishes, true);
        self.inner.finish_and_claim(finishes, request, now)
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn enqueue(&self, task: NewTask, now: Timestamp) -> Result<EnqueueOutcome, StoreError> {
        self.inner.enqueue(task, now)
    }
    fn enqueue_batch(
        &self,
        tasks: Vec<NewTask>,
        now: Timestamp,
    ) -> Result<Vec<EnqueueOutcome>, StoreError> {
        self.inner.enqueue_batch(tasks, now)
    }
    fn get(&self, id: &TaskId) -> Result<Option<TaskRecord>, StoreError> {
        self.inner.get(id)
    }
    fn list(&self, query: &TaskListQuery) -> Result<Vec<TaskRecord>, StoreError> {
        self.inner.list(query)
    }
    fn aggregate(&self, filter: &TaskFilter) -> Result<TaskAggregate, StoreError> {
        self.inner.aggregate(filter)
    }
    fn list_steps(&self, id: &TaskId, query: &StepQuery) -> Result<Vec<StepRecord>, StoreError> {
        self.inner.list_steps(id, query)
    }
    fn claim(&self, request: &ClaimRequest, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError> {
        self.inner.claim(request, now)
    }
    fn start(&self, lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError> {
        self.inner.start(lease, now)
    }
    fn heartbeat(
        &self,
        lease: &Lease,
        lease_for: Duration,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.inner.heartbeat(lease, lease_for, now)
    }
    fn set_progress(
        &self,
        lease: &Lease,
        update: &ProgressUpdate,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.inner.set_progress(lease, update, now)
    }
    fn append_steps(
        &self,
        lease: &Lease,
        steps: &[NewStep],
        now: Timestamp,
    ) -> Result<AppendedSteps, StoreError> {
        self.inner.append_steps(lease, steps, now)
    }
    fn complete(
        &self,
        lease: &Lease,
        output: serde_json::Value,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.inner.complete(lease, output, now)
    }
    fn fail(
        &self,
        lease: &Lease,
        error: TaskError,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.inner.fail(lease, error, retry_at, now)
    }
    fn acknowledge_cancel(
        &self,
        lease: &Lease,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.inner.acknowledge_cancel(lease, reason, now)
    }
    fn release(&self, lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError> {
        self.inner.release(lease, now)
    }
    fn cancel(
        &self,
        id: &TaskId,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.inner.cancel(id, reason, now)
    }
    fn recover_expired(&self, limit: u32, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError> {
        self.inner.recover_expired(limit, now)
    }
    fn mark_stale(
        &self,
        silent_for: Duration,
        reason: &str,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        self.inner.mark_stale(silent_for, reason, limit, now)
    }
    fn compact(
        &self,
        policy: &RetentionPolicy,
        now: Timestamp,
    ) -> Result<RetentionReport, StoreError> {
        self.inner.compact(policy, now)
    }
    fn read_changes(
        &self,
        after: Option<&ChangeCursor>,
        limit: u32,
    ) -> Result<ChangePage, StoreError> {
        self.inner.read_changes(after, limit)
    }
}

/// A store under test and whatever must outlive it.
struct Fixture {
    store: Arc<dyn TaskStore>,
    _guard: Box<dyn std::any::Any>,
}

fn memory() -> Option<Fixture> {
    Some(Fixture { store: Arc::new(tasks_testkit::MemoryStore::new()), _guard: Box::new(()) })
}

fn sqlite() -> Option<Fixture> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = tasks_store_sqlite::SqliteOptions::new(dir.path().join("tasks.sqlite"));
    let store = tasks_store_sqlite::SqliteTaskStore::open(options).expect("the store opens");
    Some(Fixture { store: Arc::new(store), _guard: Box::new(dir) })
}

fn postgres() -> Option<Fixture> {
    let (store, guard) = tasks_store_postgres::testing::fresh_store()?;
    Some(Fixture { store: Arc::new(store), _guard: Box::new(guard) })
}

/// Runs `test` with a gated store over a fresh store from `factory` and `count` tasks claimed
/// and started by runner `r`, set up off the runtime (where the Postgres client may
/// be used), on a two-worker runtime.
fn run<F, Fut>(name: &str, factory: fn() -> Option<Fixture>, count: usize, test: F)
where
    F: FnOnce(Arc<Gated>, Vec<Lease>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(fixture) = factory() else {
        eprintln!("SKIPPED {name}: this store is not available here");
        return;
    };
    let store = &fixture.store;
    let now = Timestamp::now_utc();
    let tasks = (0..count).map(|n| NewTask::new("burst", json!(n))).collect();
    store.enqueue_batch(tasks, now).expect("enqueued");
    let request = ClaimRequest::new("r", count as u32, Duration::from_secs(60));
    let claimed = store.claim(&request, now).expect("claimed");
    assert_eq!(claimed.len(), count);
    let leases: Vec<Lease> =
        claimed.iter().map(|record| record.lease().expect("a claimed task has a lease")).collect();
    for result in store.start_batch(&leases, now).expect("started") {
        result.expect("each task started");
    }
    let gated = Arc::new(Gated::new(Arc::clone(store)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(test(Arc::clone(&gated), leases));
    drop(runtime);
    drop(gated);
    drop(fixture);
}

/// A host over `store` that is never started: only its burst writer is used.
fn host(store: &Arc<Gated>) -> TaskHost {
    TaskHost::builder_from_arc(Arc::clone(store) as Arc<dyn TaskStore>)
        .build()
        .expect("a valid host")
}

/// Waits until `check` holds; fails after [`PATIENCE`].
async fn until(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Writes `first` alone, held at the store's gate, queues `rest` behind it, then opens the
/// gate; returns every answer, `first`'s first.
async fn burst_behind_one(
    store: &Arc<Gated>,
    host: &TaskHost,
    first: Finish,
    rest: Vec<Finish>,
) -> Vec<Result<TaskRecord, StoreError>> {
    store.close();
    let inner = Arc::clone(&host.inner);
    let head = tokio::spawn(async move { FinishWriter::write(&inner, first).await });
    until("the first write to reach the store", || store.arrived() == 1).await;
    let count = rest.len();
    let mut handles = vec![head];
    for finish in rest {
        let inner = Arc::clone(&host.inner);
        handles.push(tokio::spawn(async move { FinishWriter::write(&inner, finish).await }));
    }
    until("the other writes to queue", || host.inner.finishes.waiting() == count).await;
    store.open();
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.expect("the write task ran"));
    }
    answers
}

/// Closes the gate, writes `leases[0]` (its burst reaches the store and is held there), then
/// `leases[1..=behind]`, which wait for the next burst; returns the writes, in that order.
async fn one_held_and_more_waiting(
    store: &Arc<Gated>,
    host: &TaskHost,
    leases: &[Lease],
    behind: usize,
) -> Vec<tokio::task::JoinHandle<Result<TaskRecord, StoreError>>> {
    store.close();
    let write = |n: usize| {
        let inner = Arc::clone(&host.inner);
        let finish = complete(&leases[n], n);
        tokio::spawn(async move { FinishWriter::write(&inner, finish).await })
    };
    let mut handles = vec![write(0)];
    until("the first burst to reach the store", || store.arrived() == 1).await;
    handles.extend((1..=behind).map(write));
    until("the writes behind it to wait", || host.inner.finishes.waiting() == behind).await;
    handles
}

fn complete(lease: &Lease, n: usize) -> Finish {
    Finish::Complete { lease: lease.clone(), output: json!({ "n": n }) }
}

async fn finishes_waiting_during_a_write_go_together(store: Arc<Gated>, leases: Vec<Lease>) {
    let host = host(&store);
    let rest = leases[1..].iter().enumerate().map(|(n, lease)| complete(lease, n + 1)).collect();
    let answers = burst_behind_one(&store, &host, complete(&leases[0], 0), rest).await;
    assert_eq!(store.sizes(), vec![1, leases.len() - 1], "one alone, then the rest together");
    for (n, answer) in answers.into_iter().enumerate() {
        let record = answer.expect("each completion lands");
        assert_eq!(record.id, leases[n].task_id, "each caller gets its own answer");
        assert_eq!(record.status, TaskStatus::Succeeded);
        assert_eq!(record.output, Some(json!({ "n": n })));
    }
    // A lone write later is not held for company.
    assert_eq!(host.inner.finishes.waiting(), 0);
}

async fn refused_item_in_a_burst_affects_only_its_task(store: Arc<Gated>, leases: Vec<Lease>) {
    let host = host(&store);
    let stale = Lease { task_id: leases[1].task_id.clone(), token: LeaseToken::generate() };
    let huge = json!("x".repeat(tasks_core::limits::MAX_PAYLOAD_BYTES + 1));
    let retry_at = Timestamp::now_utc().saturating_add(Duration::from_secs(3600));
    let rest = vec![
        Finish::Complete { lease: stale, output: json!(1) },
        Finish::Complete { lease: leases[2].clone(), output: huge },
        Finish::Fail {
            lease: leases[3].clone(),
            error: TaskError::new("try later"),
            retry_at: Some(retry_at),
        },
        Finish::AcknowledgeCancel { lease: leases[4].clone(), reason: Some("stop".into()) },
        complete(&leases[5], 5),
    ];
    let answers = burst_behind_one(&store, &host, complete(&leases[0], 0), rest).await;
    assert_eq!(store.sizes(), vec![1, 5]);
    let kind = |n: usize| answers[n].as_ref().err().map(StoreError::kind);
    let status = |n: usize| answers[n].as_ref().ok().map(|record| record.status);
    assert_eq!(status(0), Some(TaskStatus::Succeeded));
    assert_eq!(kind(1), Some(StoreErrorKind::LeaseLost), "a stale lease refuses its item");
    assert_eq!(kind(2), Some(StoreErrorKind::InvalidInput), "an oversized output its item");
    assert_eq!(status(3), Some(TaskStatus::Queued), "a failure with attempts left is retried");
    assert_eq!(status(4), Some(TaskStatus::Cancelled));
    assert_eq!(status(5), Some(TaskStatus::Succeeded));
    // The refused items changed nothing: those tasks still run under their live leases.
    let ids: Vec<TaskId> = leases.iter().map(|lease| lease.task_id.clone()).collect();
    let inner = Arc::clone(&store.inner);
    let records: Vec<TaskRecord> = tokio::task::spawn_blocking(move || {
        ids.iter().map(|id| inner.get(id).expect("read").expect("exists")).collect()
    })
    .await
    .expect("read");
    assert_eq!(records[1].status, TaskStatus::Running);
    assert_eq!(records[2].status, TaskStatus::Running);
    assert_eq!(records[2].output, None);
    assert_eq!(records[3].retry_scheduled_at, Some(retry_at));
}

async fn events_of_a_burst_follow_its_durable_write(store: Arc<Gated>, leases: Vec<Lease>) {
    let host = host(&store);
    // Each `task:succeeded` is checked against the store when the listener gets it (on the
    // host's event thread, where a blocking store call is fine): the write must be durable.
    let seen: Arc<Mutex<Vec<(TaskId, TaskStatus)>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let reader = Arc::clone(&store.inner);
    host.on_event(move |event| {
        if event.event_type != HostEventType::TaskSucceeded {
            return;
        }
        let Some(task) = &event.task else { return };
        let stored = reader.get(&task.id).ok().flatten().map_or(TaskStatus::Queued, |r| r.status);
        sink.lock().unwrap_or_else(PoisonError::into_inner).push((task.id.clone(), stored));
    });
    let rest = leases[1..].iter().enumerate().map(|(n, lease)| complete(lease, n + 1)).collect();
    let answers = burst_behind_one(&store, &host, complete(&leases[0], 0), rest).await;
    assert!(answers.iter().all(Result::is_ok));
    let events = || seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    until("every task:succeeded", || events().len() == leases.len()).await;
    assert_eq!(store.sizes(), vec![1, leases.len() - 1]);
    let expected: Vec<(TaskId, TaskStatus)> =
        store.bursts().into_iter().flatten().map(|id| (id, TaskStatus::Succeeded)).collect();
    assert_eq!(events(), expected, "told in the bursts' order, each after its write");
}

/// A claim asked for while a burst is in flight goes with the next burst, in one store call
/// after its final writes, takes the tasks queued for this host's kinds and hands them to
/// attempts here, which run them; with no final write pending there is no burst to go with.
async fn a_claim_goes_with_the_next_burst(store: Arc<Gated>, leases: Vec<Lease>) {
    let queued = Arc::clone(&store.inner);
    let next: Vec<TaskId> = tokio::task::spawn_blocking(move || {
        let tasks = (0..2).map(|n| NewTask::new("next", json!(n))).collect();
        let outcomes = queued.enqueue_batch(tasks, Timestamp::now_utc()).expect("enqueued");
        outcomes.into_iter().map(|outcome| outcome.task.id).collect()
    })
    .await
    .expect("enqueued off the runtime");
    let host = host_running_next(&store);
    let writer = &host.inner.finishes;
    assert!(writer.claim_with_next_burst().is_none(), "no final write pending: claim alone");
    let handles = one_held_and_more_waiting(&store, &host, &leases, 2).await;
    let claim = writer.claim_with_next_burst().expect("a burst is in flight");
    store.open();
    let outcome = claim.await.expect("the writer answered").expect("a slot was free");
    let answered = outcome.expect("the claim succeeded");
    assert!(!answered.saturated, "fewer tasks than free slots");
    assert_eq!(store.sizes()[..2], [1, 2], "the claim did not take the waiting writes apart");
    assert_eq!(store.claimed_with()[..2], [false, true], "the second burst carried the claim");
    for handle in handles {
        let record = handle.await.expect("the write task ran").expect("each write lands");
        assert_eq!(record.status, TaskStatus::Succeeded);
    }
    until("the claimed tasks to run here", || {
        let written: Vec<TaskId> = store.bursts().into_iter().flatten().collect();
        next.iter().all(|id| written.contains(id))
    })
    .await;
    until("the writing loop to end", || !writer.is_writing()).await;
    assert!(writer.claim_with_next_burst().is_none(), "nothing pending once it ended");
}

/// A host over `store` that runs kind `next` (so it has something to claim), never started.
fn host_running_next(store: &Arc<Gated>) -> TaskHost {
    TaskHost::builder_from_arc(Arc::clone(store) as Arc<dyn TaskStore>)
        .handler(HandlerRegistration::new(
            "next",
            from_fn(|_: serde_json::Value, _: TaskContext| async {
                Ok::<_, TaskFailure>(json!(null))
            }),
        ))
        .build()
        .expect("a valid host")
}

/// When the call carrying a claim fails as a whole, the claim loop gets the error and the
/// burst's final writes are made on their own: they do not share the claim's fate.
async fn a_failed_claim_leaves_its_burst_to_land_alone(store: Arc<Gated>, leases: Vec<Lease>) {
    let host = host_running_next(&store);
    let writer = &host.inner.finishes;
    let writes = one_held_and_more_waiting(&store, &host, &leases, 1).await;
    let claim = writer.claim_with_next_burst().expect("a burst is in flight");
    store.permit_one();
    until("the call carrying the claim to reach the store", || store.arrived() == 2).await;
    store.then(Next::Fail);
    store.open();
    let outcome = claim.await.expect("the writer answered").expect("a claim was made");
    let error = outcome.expect_err("the claim failed with its call");
    assert_eq!(error.kind(), StoreErrorKind::Unavailable);
    for write in writes {
        let record = write.await.expect("ran").expect("each write landed");
        assert_eq!(record.status, TaskStatus::Succeeded);
    }
    assert_eq!(store.arrived(), 3, "the failed call, then the burst alone");
    assert_eq!(store.claimed_with(), vec![false, false], "only the plain bursts were written");
    until("the writing loop to end", || !writer.is_writing()).await;
}

/// A claim handed over but not yet taken by the writer can be taken back (a stopping host);
/// the burst then goes alone.
async fn a_claim_not_yet_taken_can_be_withdrawn(store: Arc<Gated>, leases: Vec<Lease>) {
    let host = host_running_next(&store);
    let writer = &host.inner.finishes;
    let writes = one_held_and_more_waiting(&store, &host, &leases, 1).await;
    let claim = writer.claim_with_next_burst().expect("a burst is in flight");
    assert!(writer.withdraw_claim(), "not taken yet");
    assert!(!writer.withdraw_claim(), "withdrawn once");
    store.open();
    for write in writes {
        write.await.expect("ran").expect("each write landed");
    }
    assert!(claim.await.is_err(), "a withdrawn claim is never answered");
    assert_eq!(store.claimed_with(), vec![false, false], "no call claimed");
}

async fn a_failed_burst_answers_each_of_its_writes(store: Arc<Gated>, leases: Vec<Lease>) {
    let host = host(&store);
    let writer = &host.inner.finishes;
    store.close();
    let write = |n: usize| {
        let inner = Arc::clone(&host.inner);
        let finish = complete(&leases[n], n);
        tokio::spawn(async move { FinishWriter::write(&inner, finish).await })
    };
    let first = write(0);
    until("the first burst to reach the store", || store.arrived() == 1).await;
    let (second, third) = (write(1), write(2));
    until("two writes to wait", || writer.waiting() == 2).await;
    store.permit_one();
    until("the second burst to reach the store", || store.arrived() == 2).await;
    store.then(Next::Fail);
    store.open();
    let first = first.await.expect("ran").expect("the first burst landed");
    assert_eq!(first.status, TaskStatus::Succeeded);
    for failed in [second, third] {
        let error = failed.await.expect("ran").expect_err("the second burst failed");
        assert_eq!(error.kind(), StoreErrorKind::Unavailable, "each write gets the error");
    }
    // Nothing was written for them, and the writer goes on: a write again lands.
    let again = write(1).await.expect("ran").expect("written again");
    assert_eq!(again.status, TaskStatus::Succeeded);
    // The writing loop ends once nothing waits.
    until("the writing loop to end", || !writer.is_writing()).await;
}

async fn a_panicking_store_leaves_the_writer_usable(store: Arc<Gated>, leases: Vec<Lease>) {
    let host = host(&store);
    let writer = &host.inner.finishes;
    store.then(Next::Panic);
    let inner = Arc::clone(&host.inner);
    let lost = FinishWriter::write(&inner, complete(&leases[0], 0)).await;
    assert!(lost.is_err(), "a write whose store call panicked gets an error");
    until("the writer to be reset", || !writer.is_writing()).await;
    let again = FinishWriter::write(&inner, complete(&leases[0], 0)).await;
    assert_eq!(again.expect("the next write lands").status, TaskStatus::Succeeded);
}

macro_rules! on_every_store {
    ($($test:ident: $count:expr;)+) => {
        $(
            mod $test {
                use super::*;

                #[test]
                fn memory() {
                    run(stringify!($test), super::memory, $count, super::$test);
                }

                #[test]
                fn sqlite() {
                    run(stringify!($test), super::sqlite, $count, super::$test);
                }

                #[test]
                fn postgres() {
                    run(stringify!($test), super::postgres, $count, super::$test);
                }
            }
        )+
    };
}

on_every_store! {
    finishes_waiting_during_a_write_go_together: 5;
    refused_item_in_a_burst_affects_only_its_task: 6;
    events_of_a_burst_follow_its_durable_write: 4;
    a_claim_goes_with_the_next_burst: 3;
    a_failed_claim_leaves_its_burst_to_land_alone: 2;
    a_claim_not_yet_taken_can_be_withdrawn: 2;
    a_failed_burst_answers_each_of_its_writes: 3;
    a_panicking_store_leaves_the_writer_usable: 1;
}
