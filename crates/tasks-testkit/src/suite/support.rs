//! Helpers shared by the behaviours: fixed instants, short constructors, claim-and-finish
//! shortcuts, error-kind assertions and the before/after picture used to prove that a refused
//! call changed nothing.
//!
//! Nothing here reads a clock: every instant is [`T0`] plus a fixed offset.

use std::time::Duration;

use serde_json::json;
use tasks_core::{
    ClaimRequest, EnqueueOptions, EnqueueOutcome, KindClaim, Lease, LeaseToken, NewTask, StepQuery,
    StepRecord, StoreError, StoreErrorKind, TaskAggregate, TaskError, TaskFilter, TaskId,
    TaskListQuery, TaskOrder, TaskRecord, TaskStore, Timestamp,
};

/// The instant every behaviour starts at: 2026-01-01T00:00:00.000Z.
pub(crate) const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

/// The lease most behaviours claim with.
pub(crate) const LEASE: Duration = Duration::from_secs(30);

/// The runner id most behaviours claim as.
pub(crate) const RUNNER: &str = "runner-1";

/// `T0` plus `ms` milliseconds.
pub(crate) fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(T0.as_millis() + ms)
}

/// `T0` plus `s` seconds.
pub(crate) fn at_s(s: i64) -> Timestamp {
    at(s * 1000)
}

/// A caller-chosen task id known to be valid.
pub(crate) fn tid(id: &str) -> TaskId {
    TaskId::new(id).expect("the suite only uses valid ids")
}

/// A task of `kind` with a small input and default options.
pub(crate) fn task(kind: &str) -> NewTask {
    NewTask::new(kind, json!({"n": 1}))
}

/// A task of `kind` with the caller-chosen id `id`.
pub(crate) fn task_id(kind: &str, id: &str) -> NewTask {
    task(kind).with_options(EnqueueOptions::new().id(tid(id)))
}

/// A task of `kind` with id `id` and further options (the id is set on them).
pub(crate) fn task_with(kind: &str, id: &str, options: EnqueueOptions) -> NewTask {
    task(kind).with_options(options.id(tid(id)))
}

/// Enqueues and expects success.
pub(crate) fn enqueue_ok(store: &dyn TaskStore, task: NewTask, now: Timestamp) -> EnqueueOutcome {
    store.enqueue(task, now).expect("enqueue of a valid task succeeds")
}

/// Enqueues and returns the created (or reused) record.
pub(crate) fn put(store: &dyn TaskStore, task: NewTask, now: Timestamp) -> TaskRecord {
    enqueue_ok(store, task, now).task
}

/// Reads a task that must exist.
pub(crate) fn fetch(store: &dyn TaskStore, id: &TaskId) -> TaskRecord {
    store.get(id).expect("get succeeds").expect("the task exists")
}

/// A claim request of `RUNNER` for up to `limit` tasks of any kind, leased for [`LEASE`].
pub(crate) fn request(limit: u32) -> ClaimRequest {
    ClaimRequest::new(RUNNER, limit, LEASE)
}

/// A claim request for up to `limit` tasks of these kinds.
pub(crate) fn request_kinds(limit: u32, kinds: Vec<KindClaim>) -> ClaimRequest {
    request(limit).kinds(kinds)
}

/// Claims with `request` and expects success.
pub(crate) fn claim(
    store: &dyn TaskStore,
    request: &ClaimRequest,
    now: Timestamp,
) -> Vec<TaskRecord> {
    store.claim(request, now).expect("claim succeeds")
}

/// The ids of `records`, sorted, for order-insensitive comparisons.
pub(crate) fn sorted_ids(records: &[TaskRecord]) -> Vec<String> {
    let mut ids: Vec<String> = records.iter().map(|record| record.id.to_string()).collect();
    ids.sort();
    ids
}

/// The ids of `records`, in their order.
pub(crate) fn ids(records: &[TaskRecord]) -> Vec<String> {
    records.iter().map(|record| record.id.to_string()).collect()
}

/// Claims exactly one task and checks it is `id`: the caller arranged that no other task is
/// due at `now`.
pub(crate) fn claim_id(store: &dyn TaskStore, id: &TaskId, now: Timestamp) -> TaskRecord {
    let claimed = claim(store, &request(1), now);
    assert_eq!(ids(&claimed), vec![id.to_string()], "the claim takes the only due task");
    claimed.into_iter().next().expect("one task claimed")
}

/// The lease of a claimed or running record.
pub(crate) fn lease(record: &TaskRecord) -> Lease {
    record.lease().expect("a claimed or running record carries its lease")
}

/// A lease on `record`'s task with a token that was never issued.
pub(crate) fn forged_lease(record: &TaskRecord) -> Lease {
    Lease { task_id: record.id.clone(), token: LeaseToken::from_stored("not-the-token".into()) }
}

/// Enqueues `id` at `now`, claims it and starts it: the caller arranged that no other task is
/// due at `now`.
pub(crate) fn running(store: &dyn TaskStore, new: NewTask, now: Timestamp) -> TaskRecord {
    let queued = put(store, new, now);
    let claimed = claim_id(store, &queued.id, now);
    store.start(&lease(&claimed), now).expect("start of a claimed task succeeds")
}

/// How a task created by [`finished`] ends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum End {
    Succeeded,
    Failed,
    Cancelled,
}

/// Enqueues `new` at `now` and finishes it at `now` the way `end` says (cancelled at once
/// while queued). The caller arranged that no other task is due at `now`.
pub(crate) fn finished(
    store: &dyn TaskStore,
    new: NewTask,
    end: End,
    now: Timestamp,
) -> TaskRecord {
    let queued = put(store, new, now);
    match end {
        End::Cancelled => store.cancel(&queued.id, None, now).expect("cancel succeeds"),
        End::Succeeded => {
            let claimed = claim_id(store, &queued.id, now);
            store.complete(&lease(&claimed), json!({"ok": true}), now).expect("complete succeeds")
        }
        End::Failed => {
            let claimed = claim_id(store, &queued.id, now);
            store.fail(&lease(&claimed), TaskError::new("boom"), None, now).expect("fail succeeds")
        }
    }
}

/// Asserts that `result` is an error of `kind`.
#[track_caller]
pub(crate) fn assert_kind<T: std::fmt::Debug>(result: Result<T, StoreError>, kind: StoreErrorKind) {
    match result {
        Ok(value) => panic!("expected a {kind:?} error, got Ok({value:?})"),
        Err(err) => assert_eq!(err.kind(), kind, "wrong error kind: {err}"),
    }
}

/// Every step of a task, in seq order.
pub(crate) fn steps(store: &dyn TaskStore, id: &TaskId) -> Vec<StepRecord> {
    let query = StepQuery { after_seq: None, limit: Some(10_000), latest: false };
    store.list_steps(id, &query).expect("list_steps of an existing task succeeds")
}

/// The seq numbers of `steps`.
pub(crate) fn seqs(steps: &[StepRecord]) -> Vec<u64> {
    steps.iter().map(|step| step.seq).collect()
}

/// Every task (oldest first), the aggregate of all, and every task's steps: what a refused
/// call must leave exactly as it was.
#[derive(PartialEq, Debug)]
pub(crate) struct Picture {
    tasks: Vec<TaskRecord>,
    aggregate: TaskAggregate,
    steps: Vec<Vec<StepRecord>>,
}

/// Takes the [`Picture`] of a store.
pub(crate) fn picture(store: &dyn TaskStore) -> Picture {
    let query = TaskListQuery::all().order(TaskOrder::CreatedAsc).limit(10_000);
    let tasks = store.list(&query).expect("list succeeds");
    let aggregate = store.aggregate(&TaskFilter::all()).expect("aggregate succeeds");
    let steps = tasks.iter().map(|record| self::steps(store, &record.id)).collect();
    Picture { tasks, aggregate, steps }
}

/// Asserts the store still shows `before`.
#[track_caller]
pub(crate) fn assert_unchanged(store: &dyn TaskStore, before: &Picture, what: &str) {
    assert_eq!(&picture(store), before, "{what} changed the store");
}

/// Asserts the store still shows `before` for every task but `changed` (tasks and steps; the
/// aggregate is left out, since the changed tasks move its counts).
#[track_caller]
pub(crate) fn assert_unchanged_except(
    store: &dyn TaskStore,
    before: &Picture,
    changed: &[&TaskId],
    what: &str,
) {
    let keep = |picture: &Picture| -> Vec<(TaskRecord, Vec<StepRecord>)> {
        picture
            .tasks
            .iter()
            .zip(&picture.steps)
            .filter(|(task, _)| !changed.contains(&&task.id))
            .map(|(task, steps)| (task.clone(), steps.clone()))
            .collect()
    };
    assert_eq!(keep(&self::picture(store)), keep(before), "{what} changed other tasks");
}

/// Puts a queued task and a running task with two steps in the store, so "nothing changed"
/// has something to compare. Uses `T0` and returns the running task.
pub(crate) fn some_tasks(store: &dyn TaskStore) -> TaskRecord {
    let running = self::running(store, task_id("work", "busy"), T0);
    let steps = [tasks_core::NewStep::info("one"), tasks_core::NewStep::info("two")];
    store.append_steps(&lease(&running), &steps, T0).expect("append succeeds");
    let options = EnqueueOptions::new().channel("scope:a").dedupe_key("d");
    put(store, task_with("work", "waiting", options), T0);
    fetch(store, &running.id)
}
