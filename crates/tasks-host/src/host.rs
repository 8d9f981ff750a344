//! [`TaskHost`]: the spec's Core API. Start and stop, handler registration, enqueue (typed,
//! untyped, bulk), reads (tasks, steps, snapshots, aggregates, bootstrap), cancel, compact,
//! host and lifecycle event listeners, and the host's state.
//!
//! Every method that touches the store is `async` and runs the store call on a blocking thread;
//! they must be called from inside a tokio runtime. The handle is cheap to clone.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use tasks_core::{
    EnqueueDisposition, EnqueueOptions, EnqueueOutcome, HostEventType, NewTask, RetentionPolicy,
    RetentionReport, SnapshotOptions, SnapshotQuery, StepQuery, StepRecord, SubscriptionQuery,
    TaskAggregate, TaskFilter, TaskHostEvent, TaskId, TaskLifecycleEvent, TaskListQuery,
    TaskRecord, TaskSnapshot, TaskStatus, TaskStore, TaskStoreExt, TaskSubscriptionBootstrap,
    Timestamp,
};

use crate::attempt::StopCause;
use crate::builder::TaskHostBuilder;
use crate::error::HostError;
use crate::events::Subscription;
use crate::inner::{Inner, lock};
use crate::lifecycle;
use crate::registration::HandlerRegistration;
use crate::state::HostState;
use crate::wake::ClaimWaker;

/// After the store accepted enqueues, on the blocking thread right after it answered: tells
/// listeners (before any host can claim the tasks, so `enqueued` always comes before `claimed`),
/// then wakes the claim loop for tasks due now, a hop sooner than the caller's task could, or
/// sets a wake-up for when delayed ones come due. Reused tasks and kinds without a handler here
/// wake nothing.
fn enqueued_now(inner: &Inner, outcomes: &[EnqueueOutcome], now: Timestamp) {
    tell_enqueued(inner, outcomes);
    let mut wake_now = false;
    for outcome in outcomes {
        if outcome.disposition == EnqueueDisposition::Reused
            || inner.handler(&outcome.task.kind).is_none()
        {
            continue;
        }
        let due_in = outcome.task.scheduled_at.duration_since(now);
        if due_in.is_zero() {
            wake_now = true;
        } else {
            inner.waker.wake_after(due_in);
        }
    }
    if wake_now {
        inner.waker.wake();
    }
}

/// Tells listeners about enqueues.
fn tell_enqueued(inner: &Inner, outcomes: &[EnqueueOutcome]) {
    for outcome in outcomes {
        inner.emit_task_with(HostEventType::TaskEnqueued, &outcome.task, |event| {
            event.deduplicated = Some(outcome.deduplicated);
            event.disposition = Some(outcome.disposition);
            event.superseded_task_ids = (!outcome.superseded_task_ids.is_empty())
                .then(|| outcome.superseded_task_ids.clone());
        });
    }
}

/// A task host: claims tasks from its store and runs them on their kinds' executors.
#[derive(Clone)]
pub struct TaskHost {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for TaskHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskHost").field("runner_id", &self.inner.runner_id).finish_non_exhaustive()
    }
}

impl TaskHost {
    /// A builder of a host over `store` (any [`TaskStore`]; an `Arc` of one works too).
    pub fn builder(store: impl TaskStore + 'static) -> TaskHostBuilder {
        TaskHostBuilder::new(Arc::new(store))
    }

    /// The same from a shared store.
    pub fn builder_from_arc(store: Arc<dyn TaskStore>) -> TaskHostBuilder {
        TaskHostBuilder::new(store)
    }

    /// The runner id this host claims as.
    pub fn runner_id(&self) -> &str {
        &self.inner.runner_id
    }

    /// Starts claiming and running tasks, and the watchdog, recovery and retention loops.
    /// Starting a running host does nothing; a stopped host starts again.
    ///
    /// # Errors
    ///
    /// [`HostError::NoRuntime`] outside a tokio runtime; [`HostError::InvalidState`] while the
    /// host is stopping.
    pub async fn start(&self) -> Result<(), HostError> {
        lifecycle::start(&self.inner)
    }

    /// Stops: no new claims; running tasks get the stop timeout to finish, then are cancelled
    /// and released so another host can claim them at once. Returns once every attempt ended.
    /// Stopping a host that does not run does nothing.
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for stores that must be closed.
    pub async fn stop(&self) -> Result<(), HostError> {
        lifecycle::stop(&self.inner).await
    }

    /// Registers (or replaces) a kind's handler, running or not. The claim loop takes the new
    /// kind at once.
    ///
    /// # Errors
    ///
    /// [`HostError::Config`] when the registration is invalid.
    pub fn register_handler(&self, registration: HandlerRegistration) -> Result<(), HostError> {
        registration.validate()?;
        self.inner
            .handlers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(registration.kind.clone(), Arc::new(registration));
        self.inner.waker.wake();
        Ok(())
    }

    /// Stops handling a kind: its queued tasks stay for other hosts; attempts already running
    /// here run to their end. Returns whether the kind was registered.
    pub fn unregister_handler(&self, kind: &str) -> bool {
        self.inner
            .handlers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(kind)
            .is_some()
    }

    /// Enqueues a task of `kind` with a typed input (anything `Serialize`, a
    /// `serde_json::Value` included).
    ///
    /// `maxAttempts` defaults to the kind's retry policy, then to the runner's default.
    ///
    /// # Errors
    ///
    /// [`HostError::Encode`] when the input does not encode; the store's errors (invalid
    /// input, an id that exists) otherwise.
    pub async fn enqueue<T: Serialize + ?Sized>(
        &self,
        kind: &str,
        input: &T,
        options: EnqueueOptions,
    ) -> Result<EnqueueOutcome, HostError> {
        let input = serde_json::to_value(input)
            .map_err(|error| HostError::Encode { message: error.to_string() })?;
        self.enqueue_task(NewTask::new(kind, input).with_options(options)).await
    }

    /// Enqueues an untyped task.
    ///
    /// # Errors
    ///
    /// As the store's `enqueue`.
    pub async fn enqueue_task(&self, task: NewTask) -> Result<EnqueueOutcome, HostError> {
        let task = self.with_defaults(task);
        let teller = Arc::clone(&self.inner);
        let enqueue = move |store: &dyn TaskStore, now| {
            let outcome = store.enqueue(task, now)?;
            enqueued_now(&teller, std::slice::from_ref(&outcome), now);
            Ok(outcome)
        };
        let outcome = self.inner.store.call(enqueue).await?;
        self.enqueued(std::slice::from_ref(&outcome)).await;
        Ok(outcome)
    }

    /// Enqueues many tasks in one transaction, in order, all or nothing.
    ///
    /// # Errors
    ///
    /// As the store's `enqueue_batch`: one invalid task refuses the whole batch.
    pub async fn enqueue_batch(
        &self,
        tasks: Vec<NewTask>,
    ) -> Result<Vec<EnqueueOutcome>, HostError> {
        let tasks: Vec<NewTask> = tasks.into_iter().map(|task| self.with_defaults(task)).collect();
        let teller = Arc::clone(&self.inner);
        let enqueue = move |store: &dyn TaskStore, now| {
            let outcomes = store.enqueue_batch(tasks, now)?;
            enqueued_now(&teller, &outcomes, now);
            Ok(outcomes)
        };
        let outcomes = self.inner.store.call(enqueue).await?;
        self.enqueued(&outcomes).await;
        Ok(outcomes)
    }

    fn with_defaults(&self, mut task: NewTask) -> NewTask {
        if task.options.max_attempts.is_none() {
            let from_handler = self
                .inner
                .handler(&task.kind)
                .and_then(|registration| registration.retry.max_attempts);
            task.options.max_attempts =
                Some(from_handler.unwrap_or(self.inner.options.default_max_attempts));
        }
        task
    }

    /// After an enqueue: the superseded tasks' attempts running here told to stop.
    async fn enqueued(&self, outcomes: &[EnqueueOutcome]) {
        let superseded: Vec<TaskId> = outcomes
            .iter()
            .filter(|outcome| outcome.disposition != EnqueueDisposition::Reused)
            .flat_map(|outcome| outcome.superseded_task_ids.iter().cloned())
            .collect();
        if !superseded.is_empty() {
            self.superseded(superseded).await;
        }
    }

    /// Tells the superseded tasks' attempts running here to stop, and listeners which queued
    /// tasks were cancelled.
    async fn superseded(&self, ids: Vec<TaskId>) {
        let query = TaskListQuery::filtered(TaskFilter { task_ids: ids, ..TaskFilter::all() })
            .limit(tasks_core::limits::MAX_PAGE_LIMIT);
        let records = match self.inner.store.call(move |store, _| store.list(&query)).await {
            Ok(records) => records,
            Err(error) => {
                self.inner.emit_store_error("reading superseded tasks", None, &error);
                return;
            }
        };
        for record in &records {
            self.tell_cancelled(record);
        }
    }

    /// Reacts to a cancel the store accepted: a queued task is cancelled now (tell listeners);
    /// a running one here is told to stop at once.
    fn tell_cancelled(&self, record: &TaskRecord) {
        match record.status {
            TaskStatus::Cancelled => self.inner.emit_task(HostEventType::TaskCancelled, record),
            TaskStatus::Claimed | TaskStatus::Running => {
                if let Some(attempt) = self.inner.running_attempt(&record.id) {
                    attempt.observe(record);
                }
            }
            _ => {}
        }
    }

    /// Reads one task.
    ///
    /// # Errors
    ///
    /// The store's.
    pub async fn get_task(&self, id: &TaskId) -> Result<Option<TaskRecord>, HostError> {
        let id = id.clone();
        Ok(self.inner.store.call(move |store, _| store.get(&id)).await?)
    }

    /// Reads a page of tasks.
    ///
    /// # Errors
    ///
    /// The store's (an invalid filter or limit).
    pub async fn list_tasks(&self, query: TaskListQuery) -> Result<Vec<TaskRecord>, HostError> {
        Ok(self.inner.store.call(move |store, _| store.list(&query)).await?)
    }

    /// Reads a task's steps, oldest first, from a replay cursor.
    ///
    /// # Errors
    ///
    /// The store's (`NotFound` for an unknown task).
    pub async fn list_task_steps(
        &self,
        id: &TaskId,
        query: StepQuery,
    ) -> Result<Vec<StepRecord>, HostError> {
        let id = id.clone();
        Ok(self.inner.store.call(move |store, _| store.list_steps(&id, &query)).await?)
    }

    /// Reads a task's snapshot, with its most recent steps when asked.
    ///
    /// # Errors
    ///
    /// The store's.
    pub async fn read_snapshot(
        &self,
        id: &TaskId,
        options: SnapshotOptions,
    ) -> Result<Option<TaskSnapshot>, HostError> {
        let id = id.clone();
        Ok(self.inner.store.call(move |store, _| store.read_snapshot(&id, &options)).await?)
    }

    /// Reads a page of snapshots (filter by lifecycle state with `filter.states`).
    ///
    /// # Errors
    ///
    /// The store's.
    pub async fn list_snapshots(
        &self,
        query: SnapshotQuery,
    ) -> Result<Vec<TaskSnapshot>, HostError> {
        Ok(self.inner.store.call(move |store, _| store.list_snapshots(&query)).await?)
    }

    /// Counts tasks by lifecycle state, status and kind.
    ///
    /// # Errors
    ///
    /// The store's.
    pub async fn read_aggregate(&self, filter: TaskFilter) -> Result<TaskAggregate, HostError> {
        Ok(self.inner.store.call(move |store, _| store.aggregate(&filter)).await?)
    }

    /// The bootstrap of a live subscription: snapshots, recent steps, aggregate, and the change
    /// feed's cursor when the store has one.
    ///
    /// # Errors
    ///
    /// The store's.
    pub async fn bootstrap(
        &self,
        query: SubscriptionQuery,
    ) -> Result<TaskSubscriptionBootstrap, HostError> {
        Ok(self.inner.store.call(move |store, now| store.bootstrap(&query, now)).await?)
    }

    /// Cancels a task: a queued one at once; a claimed or running one gets a cancel request,
    /// and when it runs on this host its execution is told at once (elsewhere, its host learns
    /// on its next heartbeat).
    ///
    /// # Errors
    ///
    /// The store's: `NotFound` for an unknown id, `Refused` for a finished task.
    pub async fn cancel(&self, id: &TaskId, reason: Option<&str>) -> Result<TaskRecord, HostError> {
        let (id, reason) = (id.clone(), reason.map(str::to_owned));
        let record = self
            .inner
            .store
            .call(move |store, now| store.cancel(&id, reason.as_deref(), now))
            .await?;
        if record.status.is_active() {
            if let Some(attempt) = self.inner.running_attempt(&record.id) {
                let reason = record
                    .error
                    .as_ref()
                    .map_or_else(|| "cancel requested".to_owned(), |error| error.message.clone());
                attempt.stop(StopCause::Cancel(reason));
            }
        } else {
            self.tell_cancelled(&record);
        }
        Ok(record)
    }

    /// Applies a retention policy now: `policy`, or the runner's when `None` (nothing is
    /// deleted when neither is set).
    ///
    /// # Errors
    ///
    /// The store's.
    pub async fn compact(
        &self,
        policy: Option<RetentionPolicy>,
    ) -> Result<RetentionReport, HostError> {
        let Some(policy) = policy.or_else(|| self.inner.options.retention_policy.clone()) else {
            return Ok(RetentionReport::default());
        };
        Ok(crate::maintenance::compact(&self.inner, policy).await?)
    }

    /// Calls `listener` with every host event, on the host's event thread, in order. A slow
    /// listener delays only other listeners.
    pub fn on_event(
        &self,
        listener: impl Fn(&TaskHostEvent) + Send + Sync + 'static,
    ) -> Subscription {
        self.inner.events.on_event(Arc::new(listener))
    }

    /// Calls `listener` with every lifecycle event (the spec's eleven names), each with the
    /// task's snapshot, step events with their step.
    ///
    /// A `progress` event is told when the handler reports, before its coalesced write: it
    /// carries the revision of the last write, which the write then raises.
    pub fn on_lifecycle_event(
        &self,
        listener: impl Fn(&TaskLifecycleEvent) + Send + Sync + 'static,
    ) -> Subscription {
        self.inner.events.on_lifecycle_event(Arc::new(listener))
    }

    /// The host's state now.
    pub fn state(&self) -> HostState {
        let (status, started_at) = {
            let run = lock(&self.inner.run);
            (run.status, run.started_at)
        };
        // Attempts still making their final write count: their tasks are not done yet.
        let (active, active_by_kind) = {
            let running = lock(&self.inner.running);
            let mut by_kind: BTreeMap<String, u32> = BTreeMap::new();
            for attempt in running.values() {
                *by_kind.entry(attempt.kind.clone()).or_default() += 1;
            }
            (u32::try_from(running.len()).unwrap_or(u32::MAX), by_kind)
        };
        let mut kinds: Vec<String> = self
            .inner
            .handlers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        kinds.sort();
        HostState {
            status,
            runner_id: self.inner.runner_id.clone(),
            started_at,
            concurrency: self.inner.options.concurrency,
            active,
            active_by_kind,
            kinds,
        }
    }

    /// The handle that wakes this host's claim loop: hand it to whatever learns of new work
    /// (a store's notification listener).
    pub fn waker(&self) -> ClaimWaker {
        self.inner.waker.clone()
    }

    /// Runs one lease-recovery scan now (it also runs on the stale scan interval).
    pub async fn recover_expired(&self) {
        crate::maintenance::recover(&self.inner).await;
    }

    /// Whether the store announces new work itself (see [`TaskHost::waker`]).
    pub fn store_notifies(&self) -> bool {
        self.inner.store.store().is_some_and(|store| store.capabilities().notifications)
    }
}
