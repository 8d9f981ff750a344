//! A store in trouble, and how the host copes.
//!
//! - A store that fails for a while (a database restarting) while an attempt ends: the
//!   attempt keeps its last flush and its final write waiting for the store as long as its
//!   lease runs, so the task finishes as attempt 1 with every step instead of being run again
//!   once the lease expires. Found by the gauntlet's `pg-restart` scenario: hosts gave up on a
//!   final write after about a second and the work was done twice.
//! - A store that reports a warning (a transaction held open, slowing claims): the host asks
//!   on its health check interval and reports each as a `runner:warning` event naming the
//!   cause; a failing check is a runner error that does not stop the host. Found by the
//!   gauntlet's `long-transaction` scenario: claims slowed down and nobody was told why.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tasks_core::{
    AppendedSteps, Capabilities, ClaimRequest, EnqueueOutcome, Finish, HostEventType, Lease,
    NewStep, NewTask, ProgressUpdate, RetentionPolicy, RetentionReport, StepQuery, StepRecord,
    StoreError, StoreWarning, TaskAggregate, TaskError, TaskFilter, TaskHostEvent, TaskId,
    TaskListQuery, TaskRecord, TaskStatus, TaskStore, Timestamp,
};
use tasks_exec_inproc::{TaskContext, TaskFailure, from_fn};
use tasks_host::{HandlerRegistration, RunnerOptions, TaskHost};
use tasks_testkit::MemoryStore;

/// How long a wait may take before the test fails (a passing test never waits this long).
const PATIENCE: Duration = Duration::from_secs(30);
/// Worker writes refused before the store comes back: more than the few quick tries a host
/// makes, so only a host that keeps trying while its lease runs gets through.
const REFUSALS: usize = 6;

/// A memory store in trouble: its worker writes fail as unavailable once `down` is set, until
/// it has refused [`REFUSALS`] of them; it reports a long transaction, or fails that check.
struct Flaky {
    inner: MemoryStore,
    down: AtomicUsize,
    check_fails: AtomicBool,
}

impl Flaky {
    fn new() -> Self {
        Flaky {
            inner: MemoryStore::new(),
            down: AtomicUsize::new(0),
            check_fails: AtomicBool::new(false),
        }
    }

    /// Whether this write is refused (counting it).
    fn refuse(&self) -> Result<(), StoreError> {
        let refused = self.down.load(Ordering::SeqCst);
        if (1..=REFUSALS).contains(&refused) {
            self.down.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Unavailable {
                message: "the database is restarting".into(),
                source: None,
            });
        }
        Ok(())
    }
}

impl TaskStore for Flaky {
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
        self.refuse()?;
        self.inner.heartbeat(lease, lease_for, now)
    }
    fn set_progress(
        &self,
        lease: &Lease,
        update: &ProgressUpdate,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.refuse()?;
        self.inner.set_progress(lease, update, now)
    }
    fn append_steps(
        &self,
        lease: &Lease,
        steps: &[NewStep],
        now: Timestamp,
    ) -> Result<AppendedSteps, StoreError> {
        self.refuse()?;
        self.inner.append_steps(lease, steps, now)
    }
    fn complete(
        &self,
        lease: &Lease,
        output: Value,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.refuse()?;
        self.inner.complete(lease, output, now)
    }
    fn fail(
        &self,
        lease: &Lease,
        error: TaskError,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.refuse()?;
        self.inner.fail(lease, error, retry_at, now)
    }
    fn acknowledge_cancel(
        &self,
        lease: &Lease,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        self.refuse()?;
        self.inner.acknowledge_cancel(lease, reason, now)
    }
    fn finish_batch(
        &self,
        finishes: &[Finish],
        now: Timestamp,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        self.refuse()?;
        self.inner.finish_batch(finishes, now)
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
    fn warnings(&self, _now: Timestamp) -> Result<Vec<StoreWarning>, StoreError> {
        if self.check_fails.load(Ordering::SeqCst) {
            return Err(StoreError::Backend { message: "the check failed".into(), source: None });
        }
        Ok(vec![StoreWarning::new(
            tasks_core::warning::LONG_TRANSACTION_CODE,
            "a transaction has been open for 125 s on backend 4242",
        )])
    }
}

#[test]
fn an_attempt_outlasts_a_store_outage_shorter_than_its_lease() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let store = Arc::new(Flaky::new());
        let outage = Arc::clone(&store);
        let handler = from_fn(move |_: Value, ctx: TaskContext| {
            let outage = Arc::clone(&outage);
            async move {
                ctx.step("before the outage")?;
                // The store goes down as the attempt ends: its last step and its output wait.
                outage.down.store(1, Ordering::SeqCst);
                ctx.step("during the outage")?;
                Ok::<_, TaskFailure>(json!({ "attempt": ctx.attempt() }))
            }
        });
        let options = RunnerOptions::default()
            .runner_id("patient")
            .lease(Duration::from_secs(60))
            .heartbeat(Duration::from_secs(20))
            .poll_interval(Duration::from_millis(20))
            .progress_flush_interval(Duration::from_millis(10))
            .watchdog(None);
        let host = TaskHost::builder_from_arc(Arc::clone(&store) as Arc<dyn TaskStore>)
            .options(options)
            .handler(HandlerRegistration::new("work", handler))
            .build()
            .expect("a valid host");
        host.start().await.expect("started");
        let id =
            host.enqueue("work", &json!({}), Default::default()).await.expect("queued").task.id;
        let done = tokio::time::timeout(PATIENCE, async {
            loop {
                let record = host.get_task(&id).await.expect("read").expect("exists");
                if record.status.is_terminal() {
                    return record;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the task finished once the store came back, within its lease");
        host.stop().await.expect("stopped");
        assert_eq!(done.status, TaskStatus::Succeeded);
        assert_eq!((done.attempt, done.output), (1, Some(json!({ "attempt": 1 }))));
        assert!(store.down.load(Ordering::SeqCst) > REFUSALS, "the outage happened");
        let steps = store.list_steps(&id, &StepQuery::default()).expect("steps");
        let messages: Vec<&str> = steps.iter().map(|step| step.message.as_str()).collect();
        assert_eq!(messages, ["before the outage", "during the outage"]);
    });
}

/// Options with nothing but the defaults and no watchdog.
fn quiet(runner: &str) -> RunnerOptions {
    RunnerOptions::default().runner_id(runner).watchdog(None)
}

/// Waits for the first host event of `event_type`.
async fn first(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<TaskHostEvent>,
    event_type: HostEventType,
) -> TaskHostEvent {
    let wait = async {
        loop {
            match events.recv().await {
                Some(event) if event.event_type == event_type => return event,
                Some(_) => {}
                None => panic!("the host's events ended"),
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait).await.expect("the event came")
}

#[test]
fn store_warnings_are_reported_and_a_failing_check_is_an_error() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let store = Arc::new(Flaky::new());
        let options = quiet("warned").health_check_interval(Duration::from_millis(20));
        let host = TaskHost::builder_from_arc(Arc::clone(&store) as Arc<dyn TaskStore>)
            .options(options)
            .build()
            .expect("a valid host");
        let (sender, mut events) = tokio::sync::mpsc::unbounded_channel();
        let _listening = host.on_event(move |event| {
            let _ = sender.send(event.clone());
        });
        host.start().await.expect("started");

        let warning = first(&mut events, HostEventType::RunnerWarning).await;
        assert_eq!(warning.runner_id.as_deref(), Some("warned"));
        let message = warning.message.expect("a message");
        assert!(message.contains("open for 125 s"), "{message}");
        let error = warning.error.expect("the warning as an error record");
        assert_eq!(error.code.as_deref(), Some("long_transaction"));

        store.check_fails.store(true, Ordering::SeqCst);
        let failed = first(&mut events, HostEventType::RunnerError).await;
        assert!(failed.message.expect("a message").contains("checking the store's health"));
        host.stop().await.expect("stopped");
    });
}

#[test]
fn a_zero_health_check_interval_is_refused() {
    let options = quiet("x").health_check_interval(Duration::ZERO);
    let error = TaskHost::builder(MemoryStore::new()).options(options).build().expect_err("bad");
    assert_eq!(error.kind(), tasks_host::HostErrorKind::Config);
}
