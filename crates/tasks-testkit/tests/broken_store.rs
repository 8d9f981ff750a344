//! Proof that the conformance suite can fail: [`Broken`] wraps the reference `MemoryStore`
//! and, depending on its [`Defect`], hands one task to two claimers, lets a stale lease
//! complete a task, stores half of a refused batch, forgets dedupe keys, or fails a whole
//! batch of worker writes for one stale item. Each defect must
//! make the behaviours named for it fail, while the faithful wrapper passes every behaviour.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, Once, PoisonError};
use std::time::Duration;

use tasks_core::{
    AppendedSteps, Capabilities, ChangeCursor, ChangePage, ClaimRequest, EnqueueOutcome, Finish,
    Lease, NewStep, NewTask, ProgressUpdate, RetentionPolicy, RetentionReport, StepQuery,
    StepRecord, StoreError, TaskAggregate, TaskError, TaskFilter, TaskId, TaskListQuery,
    TaskRecord, TaskStore, Timestamp,
};
use tasks_testkit::MemoryStore;
use tasks_testkit::suite::BEHAVIOURS;

/// What is wrong with a [`Broken`] store.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Defect {
    /// Nothing: the wrapper forwards every call as it is.
    None,
    /// `claim` also returns the task the previous claim call took, so two claimers hold it.
    DoubleHandout,
    /// `complete` swaps the presented token for the task's current one: no fencing.
    UnfencedComplete,
    /// `enqueue_batch` enqueues one task at a time, so an invalid task leaves the earlier ones
    /// stored.
    LeakyBatch,
    /// `enqueue` and `enqueue_batch` drop the dedupe key, so a duplicate becomes a second task.
    ForgetsDedupe,
    /// `start_batch` and `finish_batch` answer the first refused item's error for the whole
    /// batch, so the caller never learns what became of the other items.
    WholeBatchErrors,
}

/// A `MemoryStore` with one [`Defect`].
struct Broken {
    inner: MemoryStore,
    defect: Defect,
    last_claimed: Mutex<Option<TaskRecord>>,
}

impl Broken {
    fn new(defect: Defect) -> Self {
        Broken { inner: MemoryStore::new(), defect, last_claimed: Mutex::new(None) }
    }
}

impl Broken {
    /// The results of a batch as the defect hands them back.
    fn batch(
        &self,
        results: Result<Vec<Result<TaskRecord, StoreError>>, StoreError>,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        if self.defect == Defect::WholeBatchErrors {
            return results?
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
                .map(|all| all.into_iter().map(Ok).collect());
        }
        results
    }
}

impl TaskStore for Broken {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn enqueue(&self, mut task: NewTask, now: Timestamp) -> Result<EnqueueOutcome, StoreError> {
        if self.defect == Defect::ForgetsDedupe {
            task.options.dedupe_key = None;
        }
        self.inner.enqueue(task, now)
    }

    fn enqueue_batch(
        &self,
        mut tasks: Vec<NewTask>,
        now: Timestamp,
    ) -> Result<Vec<EnqueueOutcome>, StoreError> {
        match self.defect {
            Defect::LeakyBatch => {
                tasks.into_iter().map(|task| self.inner.enqueue(task, now)).collect()
            }
            Defect::ForgetsDedupe => {
                tasks.iter_mut().for_each(|task| task.options.dedupe_key = None);
                self.inner.enqueue_batch(tasks, now)
            }
            _ => self.inner.enqueue_batch(tasks, now),
        }
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
        let claimed = self.inner.claim(request, now)?;
        if self.defect != Defect::DoubleHandout {
            return Ok(claimed);
        }
        let mut last = self.last_claimed.lock().unwrap_or_else(PoisonError::into_inner);
        let mut handed = claimed.clone();
        // Each record is handed out once more, at most, so a claim loop still ends.
        if let Some(previous) = last.take()
            && !handed.iter().any(|record| record.id == previous.id)
        {
            handed.push(previous);
        }
        *last = claimed.last().cloned();
        Ok(handed)
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
        if self.defect == Defect::UnfencedComplete
            && let Some(current) = self.inner.get(&lease.task_id)?.and_then(|r| r.lease())
        {
            return self.inner.complete(&current, output, now);
        }
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

    fn retry(&self, id: &TaskId, now: Timestamp) -> Result<TaskRecord, StoreError> {
        self.inner.retry(id, now)
    }

    fn start_batch(
        &self,
        leases: &[Lease],
        now: Timestamp,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        self.batch(self.inner.start_batch(leases, now))
    }

    fn finish_batch(
        &self,
        finishes: &[Finish],
        now: Timestamp,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        self.batch(self.inner.finish_batch(finishes, now))
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

    fn change_cursor(&self) -> Result<ChangeCursor, StoreError> {
        self.inner.change_cursor()
    }
}

/// Threads running a behaviour carry this prefix in their name, so the panic hook can keep
/// the expected failures quiet while every other panic still prints.
const QUIET: &str = "conformance:";

fn quiet_expected_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let quiet = std::thread::current().name().is_some_and(|name| name.starts_with(QUIET));
            if !quiet {
                default(info);
            }
        }));
    });
}

/// Runs every behaviour on a fresh `Broken` store with `defect`; returns the names of those
/// that failed.
fn failing_behaviours(defect: Defect) -> Vec<&'static str> {
    quiet_expected_panics();
    let mut failed = Vec::new();
    for &(name, behaviour) in BEHAVIOURS {
        let passed = std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name(format!("{QUIET}{name}"))
                .spawn_scoped(scope, || {
                    let store = Broken::new(defect);
                    panic::catch_unwind(AssertUnwindSafe(|| behaviour(&store))).is_ok()
                })
                .expect("spawn a behaviour thread")
                .join()
                .expect("catch_unwind holds the behaviour's panic")
        });
        if !passed {
            failed.push(name);
        }
    }
    failed
}

/// Checks that each behaviour in `must_fail` failed under `defect`.
#[track_caller]
fn assert_caught(defect: Defect, must_fail: &[&str]) {
    let failed = failing_behaviours(defect);
    for name in must_fail {
        assert!(
            BEHAVIOURS.iter().any(|(known, _)| known == name),
            "{name} is not a behaviour of the suite"
        );
        assert!(failed.contains(name), "{defect:?} went unnoticed by {name}; failed: {failed:?}");
    }
}

#[test]
fn faithful_wrapper_passes_every_behaviour() {
    assert_eq!(failing_behaviours(Defect::None), Vec::<&str>::new());
}

#[test]
fn one_task_handed_to_two_claimers_is_caught() {
    assert_caught(
        Defect::DoubleHandout,
        &[
            "claim_takes_each_task_once",
            "claim_batch_respects_limit",
            "concurrent_claims_never_share_a_task",
        ],
    );
}

#[test]
fn complete_without_fencing_is_caught() {
    assert_caught(
        Defect::UnfencedComplete,
        &[
            "worker_writes_refuse_wrong_token",
            "worker_writes_refuse_lease_of_earlier_claim",
            "revision_unchanged_by_no_ops",
        ],
    );
}

#[test]
fn batch_that_is_not_all_or_nothing_is_caught() {
    assert_caught(
        Defect::LeakyBatch,
        &[
            "enqueue_batch_is_all_or_nothing",
            "enqueue_refuses_invalid_kind",
            "enqueue_refuses_invalid_options",
            "enqueue_refuses_oversized_or_deep_input",
        ],
    );
}

#[test]
fn skipped_dedupe_is_caught() {
    assert_caught(
        Defect::ForgetsDedupe,
        &[
            "dedupe_reuses_open_task",
            "dedupe_creates_new_task_after_finish",
            "enqueue_batch_is_sequential",
            "supersede_only_when_something_is_replaced",
        ],
    );
}

#[test]
fn batch_failing_as_a_whole_is_caught() {
    assert_caught(
        Defect::WholeBatchErrors,
        &[
            "start_batch_matches_single_starts",
            "finish_batch_refuses_only_stale_items",
            "batch_items_are_one_change_each",
        ],
    );
}

/// The model-based test must notice a store that diverges from the reference: each defect
/// below makes it panic within a few dozen generated sequences.
fn model_test_fails_on(defect: Defect) {
    quiet_expected_panics();
    let caught = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name(format!("{QUIET}model {defect:?}"))
            .spawn_scoped(scope, || {
                let run = || tasks_testkit::model::run_cases(256, || Broken::new(defect));
                panic::catch_unwind(AssertUnwindSafe(run)).is_err()
            })
            .expect("spawn the model thread")
            .join()
            .expect("catch_unwind holds the model's panic")
    });
    assert!(caught, "the model test did not notice {defect:?}");
}

#[test]
fn model_test_catches_double_handout() {
    model_test_fails_on(Defect::DoubleHandout);
}

#[test]
fn model_test_catches_unfenced_complete() {
    model_test_fails_on(Defect::UnfencedComplete);
}

#[test]
fn model_test_catches_skipped_dedupe() {
    model_test_fails_on(Defect::ForgetsDedupe);
}

#[test]
fn model_test_catches_whole_batch_errors() {
    model_test_fails_on(Defect::WholeBatchErrors);
}

#[test]
fn model_test_passes_the_faithful_wrapper() {
    tasks_testkit::model::run_cases(64, || Broken::new(Defect::None));
}
