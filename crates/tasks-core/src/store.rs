//! [`TaskStore`]: the contract every store implements, and [`TaskStoreExt`], the read helpers
//! built on it (snapshots, bootstrap) that every store gets for free.
//!
//! The trait is synchronous, object-safe and `Send + Sync`: the stores that ship are blocking
//! clients (rusqlite, postgres) behind pools, and the async host calls them from blocking
//! threads. Time is an argument (`now`), never read inside a store, so the host's clock (or a
//! test's manual clock) decides every deadline and every store agrees with core's pure model.
//!
//! Each method's `# Behavior` list is the contract; the conformance suite in `tasks-testkit`
//! checks exactly those lines.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::aggregate::TaskAggregate;
use crate::capability::Capabilities;
use crate::change::{ChangeCursor, ChangePage};
use crate::enqueue::{EnqueueOutcome, NewTask};
use crate::error::{StoreError, TaskError};
use crate::finish::Finish;
use crate::id::TaskId;
use crate::lease::{ClaimRequest, ClaimedStart, FinishedAndClaimed, Lease};
use crate::live::TaskSubscriptionBootstrap;
use crate::query::{
    SnapshotOptions, SnapshotQuery, StepQuery, SubscriptionQuery, TaskFilter, TaskListQuery,
};
use crate::record::TaskRecord;
use crate::retention::{RetentionPolicy, RetentionReport};
use crate::snapshot::{ProgressUpdate, TaskSnapshot};
use crate::step::{NewStep, StepRecord};
use crate::timestamp::Timestamp;
use crate::warning::StoreWarning;

/// Steps appended in one call, with the task record they left behind.
#[derive(Clone, PartialEq, Debug)]
pub struct AppendedSteps {
    /// The task after the append (its `lastStepSeq` is the last step's `seq`).
    pub task: TaskRecord,
    /// The steps, in `seq` order.
    pub steps: Vec<StepRecord>,
}

/// A durable store of tasks and steps.
///
/// Every method is atomic: it either applies completely or changes nothing. Worker-side
/// writes (`start`, `heartbeat`, `set_progress`, `append_steps`, `complete`, `fail`,
/// `acknowledge_cancel`, `release`) are fenced by the lease: a stale token, an expired lease, a
/// task that is no longer claimed or running, or one that no longer exists gives
/// [`StoreError::LeaseLost`] and changes nothing.
pub trait TaskStore: Send + Sync {
    /// What this store offers beyond the required surface.
    ///
    /// # Behavior
    ///
    /// - Pure and cheap: no I/O, never fails, and the same answer for the life of the store, so
    ///   callers may read it once at start-up.
    /// - `change_feed` false: [`read_changes`](TaskStore::read_changes) and
    ///   [`change_cursor`](TaskStore::change_cursor) give [`StoreError::Unsupported`]; live
    ///   layers fall back to in-process events and periodic bootstraps.
    /// - `change_feed` true: both work, and every write of the contract shows up in the feed
    ///   exactly once, in commit order (the conformance suite checks this).
    /// - `multi_process` false: one process owns the store; leases still fence writers, but
    ///   the store makes no promise about claims from another process.
    /// - `notifications` and `transactional_enqueue` describe the concrete store's extra API;
    ///   nothing in this trait changes with them.
    fn capabilities(&self) -> Capabilities;

    /// Enqueues one task.
    ///
    /// # Behavior
    ///
    /// - Validates the task first (kind, id, input size and depth, keys, channels, attempts,
    ///   schedule); bad input gives [`StoreError::InvalidInput`] and stores nothing.
    /// - A caller-chosen id that already exists gives `InvalidInput::DuplicateId`.
    /// - Dedupe: an open task of the same kind and `dedupeKey` with no cancel requested is
    ///   returned with disposition `reused` and `reusedTaskId`; nothing changes.
    /// - Supersede (`supersedeExisting`): open tasks of the same kind and `supersedeKey` are
    ///   cancelled (queued) or asked to cancel (claimed, running); their ids are returned in
    ///   `supersededTaskIds` and the disposition is `superseded` when there were any.
    /// - Otherwise a queued task is created with revision 1 (disposition `created`).
    fn enqueue(&self, task: NewTask, now: Timestamp) -> Result<EnqueueOutcome, StoreError>;

    /// Enqueues many tasks in one transaction, in order.
    ///
    /// # Behavior
    ///
    /// - Each task is enqueued as by [`TaskStore::enqueue`], seeing the ones before it (a
    ///   second task with the same dedupe key as the first reuses it).
    /// - All or nothing: one invalid task refuses the batch and stores none of it.
    fn enqueue_batch(
        &self,
        tasks: Vec<NewTask>,
        now: Timestamp,
    ) -> Result<Vec<EnqueueOutcome>, StoreError>;

    /// Reads one task.
    ///
    /// # Behavior
    ///
    /// - `Ok(None)` when no task has that id.
    fn get(&self, id: &TaskId) -> Result<Option<TaskRecord>, StoreError>;

    /// Reads a page of tasks.
    ///
    /// # Behavior
    ///
    /// - Applies every filter of the query (see [`TaskFilter`]), the order (ties by id), the
    ///   offset, then the limit (100 when absent, at most 10,000).
    /// - An invalid filter or limit gives [`StoreError::InvalidInput`].
    fn list(&self, query: &TaskListQuery) -> Result<Vec<TaskRecord>, StoreError>;

    /// Counts the tasks passing `filter`.
    ///
    /// # Behavior
    ///
    /// - Totals by lifecycle state, by status and by kind, and the latest `updatedAt`, equal to
    ///   [`TaskAggregate::from_records`] over the same tasks.
    /// - An invalid filter gives [`StoreError::InvalidInput`].
    fn aggregate(&self, filter: &TaskFilter) -> Result<TaskAggregate, StoreError>;

    /// Reads a task's steps, oldest first.
    ///
    /// # Behavior
    ///
    /// - Only steps with `seq > afterSeq`; the first `limit` of them, or the last `limit` with
    ///   `latest`; returned in `seq` order.
    /// - An unknown task gives [`StoreError::NotFound`].
    fn list_steps(&self, id: &TaskId, query: &StepQuery) -> Result<Vec<StepRecord>, StoreError>;

    /// Claims up to `request.limit` due tasks for a runner, in one transaction.
    ///
    /// # Behavior
    ///
    /// - Applies the claim rules of [`crate::lease`]: due queued tasks only; priority, then
    ///   `scheduledAt`, then id; per-call, per-kind and store-wide limits; one claimed-or-running
    ///   task per `concurrencyKey`.
    /// - Each claimed task is `claimed`, with `attempt + 1`, a fresh lease token, `leaseOwner`
    ///   the runner, and `leaseExpiresAt = now + lease`.
    /// - No two callers, in any thread or process, ever claim the same task under the same
    ///   attempt.
    fn claim(&self, request: &ClaimRequest, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError>;

    /// Moves a claimed task to running.
    ///
    /// # Behavior
    ///
    /// - Lease-fenced. A task already running gives [`StoreError::Refused`].
    fn start(&self, lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError>;

    /// Renews a lease for `lease_for` from `now`.
    ///
    /// # Behavior
    ///
    /// - Lease-fenced: an expired lease cannot be renewed.
    /// - Clears a stale mark and records the heartbeat. The returned record shows
    ///   `cancelRequestedAt`, so a worker learns of a cancel request on its next heartbeat.
    fn heartbeat(
        &self,
        lease: &Lease,
        lease_for: Duration,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError>;

    /// Records progress (fields left `None` keep their value).
    ///
    /// # Behavior
    ///
    /// - Lease-fenced. A percent outside 0 to 100 gives [`StoreError::InvalidInput`].
    /// - Counts as a sign of life (clears a stale mark).
    fn set_progress(
        &self,
        lease: &Lease,
        update: &ProgressUpdate,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError>;

    /// Appends steps to the task's log.
    ///
    /// # Behavior
    ///
    /// - Lease-fenced. Steps get the next `seq` numbers with no gap, and the current attempt.
    /// - An empty message gives [`StoreError::InvalidInput`] and appends none of the batch.
    fn append_steps(
        &self,
        lease: &Lease,
        steps: &[NewStep],
        now: Timestamp,
    ) -> Result<AppendedSteps, StoreError>;

    /// Finishes the task as succeeded with `output`.
    ///
    /// # Behavior
    ///
    /// - Lease-fenced; the lease ends. An oversized output gives [`StoreError::InvalidInput`].
    fn complete(
        &self,
        lease: &Lease,
        output: serde_json::Value,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError>;

    /// Ends a failed attempt.
    ///
    /// # Behavior
    ///
    /// - Lease-fenced; the lease ends and the error is kept.
    /// - With `retry_at` and attempts left, the task is queued again for `retry_at` (lifecycle
    ///   `retrying`); otherwise (or with a cancel requested) it finishes failed (or cancelled).
    fn fail(
        &self,
        lease: &Lease,
        error: TaskError,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError>;

    /// Finishes the task as cancelled: its worker stopped on a cancel.
    ///
    /// # Behavior
    ///
    /// - Lease-fenced; the lease ends.
    fn acknowledge_cancel(
        &self,
        lease: &Lease,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError>;

    /// Gives a task back to the queue at once (its runner is stopping).
    ///
    /// # Behavior
    ///
    /// - Lease-fenced. The task is queued and due now, its attempt given back; with a cancel
    ///   requested it finishes cancelled instead.
    fn release(&self, lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError>;

    /// Cancels a task on a user's request.
    ///
    /// # Behavior
    ///
    /// - A queued task is cancelled at once; a claimed or running one gets `cancelRequestedAt`
    ///   (a second request changes nothing).
    /// - A finished task gives [`StoreError::Refused`]; an unknown id [`StoreError::NotFound`].
    fn cancel(
        &self,
        id: &TaskId,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError>;

    /// Runs a task again now, at an operator's request (a dashboard's "retry now").
    ///
    /// # Behavior
    ///
    /// - A queued task scheduled later becomes due now (one already due keeps its place).
    /// - A failed or cancelled task is queued again, due now: its error, output, finish time
    ///   and cancel request are cleared, its attempt count is kept, and `maxAttempts` is raised
    ///   to `attempt + 1` when its attempts are used up, so it can run once more.
    /// - An `event` step records the retry; the revision rises by one.
    /// - A claimed, running or succeeded task gives [`StoreError::Refused`] naming its status;
    ///   an unknown id gives [`StoreError::NotFound`]; neither changes anything.
    /// - A failed or cancelled task whose `dedupeKey` is now held by another open task of its
    ///   kind gives [`StoreError::Refused`] naming that task
    ///   ([`TransitionRefusal::DedupeKeyHeld`](crate::TransitionRefusal::DedupeKeyHeld)): two
    ///   open tasks never share a dedupe key.
    ///
    /// The default body gives [`StoreError::Unsupported`], for stores written before this
    /// method; every store of this workspace implements it.
    fn retry(&self, id: &TaskId, now: Timestamp) -> Result<TaskRecord, StoreError> {
        let _ = (id, now);
        Err(StoreError::Unsupported { operation: "retry" })
    }

    /// Claims as [`TaskStore::claim`] does and starts every claimed task as
    /// [`TaskStore::start`] would, for a runner that runs what it claims at once: one write
    /// instead of two.
    ///
    /// # Behavior
    ///
    /// - One item per claimed task, in claim order: `claimed` is exactly what `claim` would
    ///   return, `started` exactly what `start` with its lease would then return (the task one
    ///   revision later, `running`), and the store holds `started`.
    /// - The outer `Err` is for the store failing as a whole; then nothing was written.
    ///
    /// The default body calls [`TaskStore::claim`] then [`TaskStore::start_batch`], two
    /// writes: when the second fails as a whole, the tasks stay claimed and each item carries
    /// that error (the claim did happen, so the outer result is not an `Err`); the runner gives
    /// them back or lets their leases run out. The SQLite and PostgreSQL stores claim and start
    /// in one transaction; the in-memory test store keeps this body.
    fn claim_and_start(
        &self,
        request: &ClaimRequest,
        now: Timestamp,
    ) -> Result<Vec<ClaimedStart>, StoreError> {
        let claimed = self.claim(request, now)?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let leases: Vec<Lease> = claimed.iter().filter_map(TaskRecord::lease).collect();
        if leases.len() != claimed.len() {
            return Err(StoreError::Backend {
                message: "the store claimed a task without a lease".into(),
                source: None,
            });
        }
        let mut started = match self.start_batch(&leases, now) {
            Ok(started) => started.into_iter(),
            Err(error) => {
                return Ok(claimed
                    .into_iter()
                    .map(|claimed| ClaimedStart { claimed, started: Err(error.duplicate()) })
                    .collect());
            }
        };
        Ok(claimed
            .into_iter()
            .map(|claimed| {
                let started = started.next().unwrap_or_else(|| {
                    Err(StoreError::Backend {
                        message: "the store answered fewer starts than it was given".into(),
                        source: None,
                    })
                });
                ClaimedStart { claimed, started }
            })
            .collect())
    }

    /// Starts many claimed tasks (as [`TaskStore::start`] each), for a runner that claimed a
    /// batch.
    ///
    /// # Behavior
    ///
    /// - One result per lease, in input order, each exactly what [`TaskStore::start`] would
    ///   return alone, applied in input order (a lease given twice starts once; the second
    ///   gives `Refused`): a stale lease refuses only its own item.
    /// - The outer `Err` is for the store failing as a whole; then nothing was written.
    /// - An empty batch changes nothing and returns no result.
    ///
    /// The default body calls [`TaskStore::start`] once per lease, so it is not atomic: a
    /// store failure part way leaves the items before it written. The stores of this
    /// workspace write the whole batch in one transaction.
    fn start_batch(
        &self,
        leases: &[Lease],
        now: Timestamp,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        Ok(leases.iter().map(|lease| self.start(lease, now)).collect())
    }

    /// Writes many final writes of lease holders (complete, fail, acknowledge a cancel), for a
    /// runner whose attempts ended together.
    ///
    /// # Behavior
    ///
    /// - One result per finish, in input order, each exactly what the single call
    ///   ([`TaskStore::complete`], [`TaskStore::fail`], [`TaskStore::acknowledge_cancel`])
    ///   would return alone, applied in input order: a stale lease or an invalid output
    ///   refuses only its own item.
    /// - The outer `Err` is for the store failing as a whole; then nothing was written.
    /// - An empty batch changes nothing and returns no result.
    ///
    /// The default body calls the single methods once per finish, so it is not atomic: a
    /// store failure part way leaves the items before it written. The stores of this
    /// workspace write the whole batch in one transaction.
    fn finish_batch(
        &self,
        finishes: &[Finish],
        now: Timestamp,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        Ok(finishes
            .iter()
            .map(|finish| match finish {
                Finish::Complete { lease, output } => self.complete(lease, output.clone(), now),
                Finish::Fail { lease, error, retry_at } => {
                    self.fail(lease, error.clone(), *retry_at, now)
                }
                Finish::AcknowledgeCancel { lease, reason } => {
                    self.acknowledge_cancel(lease, reason.as_deref(), now)
                }
            })
            .collect())
    }

    /// Writes final writes as [`TaskStore::finish_batch`] does, then claims and starts as
    /// [`TaskStore::claim_and_start`] does, for a runner whose attempts ended and whose freed
    /// slots want new tasks: one write instead of two.
    ///
    /// # Behavior
    ///
    /// - `finished` holds exactly what `finish_batch(finishes, now)` would return, and
    ///   `claimed` exactly what `claim_and_start(request, now)` would return right after it: a
    ///   task a final write put back in the queue (a retry due now) may be claimed again.
    /// - An invalid request is refused with the outer `Err` before anything is written.
    /// - The outer `Err` is for the store failing as a whole; then nothing was written.
    ///
    /// The default body calls [`TaskStore::finish_batch`] then [`TaskStore::claim_and_start`],
    /// two writes: when the claim fails, the final writes stay written and `claimed` carries
    /// the error. The SQLite store writes both in one transaction, the PostgreSQL store too
    /// (for every burst but one with a lease shorter than a millisecond); the in-memory test
    /// store keeps this body.
    fn finish_and_claim(
        &self,
        finishes: &[Finish],
        request: &ClaimRequest,
        now: Timestamp,
    ) -> Result<FinishedAndClaimed, StoreError> {
        request.validate()?;
        let finished = self.finish_batch(finishes, now)?;
        Ok(FinishedAndClaimed { finished, claimed: self.claim_and_start(request, now) })
    }

    /// Recovers up to `limit` claimed or running tasks whose lease has run out.
    ///
    /// # Behavior
    ///
    /// - The oldest expired leases first (by `leaseExpiresAt`, then id).
    /// - Each is queued again, due now, while attempts remain, else failed (cancelled when a
    ///   cancel was requested), with a `LeaseExpired` error and an `event` step saying so.
    /// - Tasks whose lease still runs are untouched.
    fn recover_expired(&self, limit: u32, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError>;

    /// Marks stale up to `limit` claimed or running tasks silent for at least `silent_for`.
    ///
    /// # Behavior
    ///
    /// - Sets `staleAt` and `staleReason` on each; tasks already stale or heard from recently
    ///   are untouched. The next sign of life clears the mark.
    fn mark_stale(
        &self,
        silent_for: Duration,
        reason: &str,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<TaskRecord>, StoreError>;

    /// Applies a retention policy.
    ///
    /// # Behavior
    ///
    /// - Deletes finished tasks past their outcome's TTL and beyond the keep-latest limits,
    ///   with their steps; trims each task's steps to the step limit. Open tasks stay.
    /// - Reports how many tasks and steps were deleted.
    fn compact(
        &self,
        policy: &RetentionPolicy,
        now: Timestamp,
    ) -> Result<RetentionReport, StoreError>;

    /// Reads the change feed after `after` (from the start of what the store keeps when
    /// `None`).
    ///
    /// # Behavior
    ///
    /// - Stores without [`Capabilities::change_feed`] give [`StoreError::Unsupported`].
    /// - Changes come in commit order (a store may order the changes of concurrent
    ///   transactions by transaction instead), at most `limit`; every change after the cursor
    ///   is returned exactly once across successive reads with `next`.
    /// - A cursor older than what the store keeps gives [`StoreError::CursorExpired`].
    fn read_changes(
        &self,
        after: Option<&ChangeCursor>,
        limit: u32,
    ) -> Result<ChangePage, StoreError> {
        let _ = (after, limit);
        Err(StoreError::Unsupported { operation: "read_changes" })
    }

    /// The cursor at the current end of the change feed: read from here to see only what
    /// happens next.
    ///
    /// # Behavior
    ///
    /// - Stores without [`Capabilities::change_feed`] give [`StoreError::Unsupported`].
    fn change_cursor(&self) -> Result<ChangeCursor, StoreError> {
        Err(StoreError::Unsupported { operation: "change_cursor" })
    }

    /// Looks for conditions that slow the store down or put its promises at risk, for a host
    /// to report (a transaction open for minutes holding back the cleanup of dead rows, say).
    ///
    /// # Behavior
    ///
    /// - Returns what it found, nothing when all is well; it changes nothing.
    /// - The default body finds nothing.
    fn warnings(&self, now: Timestamp) -> Result<Vec<StoreWarning>, StoreError> {
        let _ = now;
        Ok(Vec::new())
    }
}

/// Read helpers every store gets: snapshots and bootstrap, built on [`TaskStore`]'s reads so
/// every caller shares one canonical snapshot path.
pub trait TaskStoreExt: TaskStore {
    /// The snapshot of one task, with its most recent steps when asked.
    ///
    /// # Errors
    ///
    /// As [`TaskStore::get`] and [`TaskStore::list_steps`].
    fn read_snapshot(
        &self,
        id: &TaskId,
        options: &SnapshotOptions,
    ) -> Result<Option<TaskSnapshot>, StoreError> {
        let Some(record) = self.get(id)? else {
            return Ok(None);
        };
        let snapshot = TaskSnapshot::from_record(&record);
        Ok(Some(match options.include_steps {
            Some(0) | None => snapshot,
            Some(limit) => snapshot.with_steps(self.list_steps(id, &StepQuery::recent(limit))?),
        }))
    }

    /// A page of snapshots, each with its most recent steps when asked.
    ///
    /// # Errors
    ///
    /// As [`TaskStore::list`] and [`TaskStore::list_steps`].
    fn list_snapshots(&self, query: &SnapshotQuery) -> Result<Vec<TaskSnapshot>, StoreError> {
        let records = self.list(&query.list)?;
        let mut snapshots = Vec::with_capacity(records.len());
        for record in &records {
            let snapshot = TaskSnapshot::from_record(record);
            snapshots.push(match query.include_steps {
                Some(0) | None => snapshot,
                Some(limit) => {
                    let steps = self.list_steps(&record.id, &StepQuery::recent(limit))?;
                    snapshot.with_steps(steps)
                }
            });
        }
        Ok(snapshots)
    }

    /// The bootstrap of a live subscription: the matching snapshots (newest first), their
    /// recent steps by task id, and the aggregate of every matching task when asked (the
    /// default).
    ///
    /// With a change feed, `cursor` is where the feed stood *before* the reads began: a
    /// reader that follows the feed from there sees every change the reads may have missed
    /// (and drops the ones it already holds by revision), so no update falls in a gap.
    ///
    /// # Errors
    ///
    /// As the reads it makes.
    fn bootstrap(
        &self,
        query: &SubscriptionQuery,
        now: Timestamp,
    ) -> Result<TaskSubscriptionBootstrap, StoreError> {
        let cursor =
            if self.capabilities().change_feed { Some(self.change_cursor()?) } else { None };
        let list = TaskListQuery {
            filter: query.filter.clone(),
            limit: query.limit,
            ..TaskListQuery::default()
        };
        let records = self.list(&list)?;
        let mut steps = BTreeMap::new();
        if let Some(limit) = query.recent_steps.filter(|limit| *limit > 0) {
            for record in &records {
                let recent = self.list_steps(&record.id, &StepQuery::recent(limit))?;
                steps.insert(record.id.to_string(), recent);
            }
        }
        let aggregate = match query.include_aggregate {
            Some(false) => None,
            _ => Some(self.aggregate(&query.filter)?),
        };
        Ok(TaskSubscriptionBootstrap {
            query: query.clone(),
            snapshots: records.iter().map(TaskSnapshot::from_record).collect(),
            steps,
            aggregate,
            cursor,
            timestamp: now,
        })
    }
}

impl<S: TaskStore + ?Sized> TaskStoreExt for S {}

/// Forwards every method to the store behind a pointer.
macro_rules! forward_store {
    ($($pointer:ty),+) => {$(
        impl<S: TaskStore + ?Sized> TaskStore for $pointer {
            fn capabilities(&self) -> Capabilities { (**self).capabilities() }
            fn enqueue(&self, task: NewTask, now: Timestamp) -> Result<EnqueueOutcome, StoreError> {
                (**self).enqueue(task, now)
            }
            fn enqueue_batch(&self, tasks: Vec<NewTask>, now: Timestamp) -> Result<Vec<EnqueueOutcome>, StoreError> {
                (**self).enqueue_batch(tasks, now)
            }
            fn get(&self, id: &TaskId) -> Result<Option<TaskRecord>, StoreError> { (**self).get(id) }
            fn list(&self, query: &TaskListQuery) -> Result<Vec<TaskRecord>, StoreError> { (**self).list(query) }
            fn aggregate(&self, filter: &TaskFilter) -> Result<TaskAggregate, StoreError> { (**self).aggregate(filter) }
            fn list_steps(&self, id: &TaskId, query: &StepQuery) -> Result<Vec<StepRecord>, StoreError> {
                (**self).list_steps(id, query)
            }
            fn claim(&self, request: &ClaimRequest, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError> {
                (**self).claim(request, now)
            }
            fn start(&self, lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError> { (**self).start(lease, now) }
            fn heartbeat(&self, lease: &Lease, lease_for: Duration, now: Timestamp) -> Result<TaskRecord, StoreError> {
                (**self).heartbeat(lease, lease_for, now)
            }
            fn set_progress(&self, lease: &Lease, update: &ProgressUpdate, now: Timestamp) -> Result<TaskRecord, StoreError> {
                (**self).set_progress(lease, update, now)
            }
            fn append_steps(&self, lease: &Lease, steps: &[NewStep], now: Timestamp) -> Result<AppendedSteps, StoreError> {
                (**self).append_steps(lease, steps, now)
            }
            fn complete(&self, lease: &Lease, output: serde_json::Value, now: Timestamp) -> Result<TaskRecord, StoreError> {
                (**self).complete(lease, output, now)
            }
            fn fail(&self, lease: &Lease, error: TaskError, retry_at: Option<Timestamp>, now: Timestamp) -> Result<TaskRecord, StoreError> {
                (**self).fail(lease, error, retry_at, now)
            }
            fn acknowledge_cancel(&self, lease: &Lease, reason: Option<&str>, now: Timestamp) -> Result<TaskRecord, StoreError> {
                (**self).acknowledge_cancel(lease, reason, now)
            }
            fn release(&self, lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError> { (**self).release(lease, now) }
            fn cancel(&self, id: &TaskId, reason: Option<&str>, now: Timestamp) -> Result<TaskRecord, StoreError> {
                (**self).cancel(id, reason, now)
            }
            fn retry(&self, id: &TaskId, now: Timestamp) -> Result<TaskRecord, StoreError> { (**self).retry(id, now) }
            fn claim_and_start(&self, request: &ClaimRequest, now: Timestamp) -> Result<Vec<ClaimedStart>, StoreError> {
                (**self).claim_and_start(request, now)
            }
            fn start_batch(&self, leases: &[Lease], now: Timestamp) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
                (**self).start_batch(leases, now)
            }
            fn finish_batch(&self, finishes: &[Finish], now: Timestamp) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
                (**self).finish_batch(finishes, now)
            }
            fn finish_and_claim(&self, finishes: &[Finish], request: &ClaimRequest, now: Timestamp) -> Result<FinishedAndClaimed, StoreError> {
                (**self).finish_and_claim(finishes, request, now)
            }
            fn recover_expired(&self, limit: u32, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError> {
                (**self).recover_expired(limit, now)
            }
            fn mark_stale(&self, silent_for: Duration, reason: &str, limit: u32, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError> {
                (**self).mark_stale(silent_for, reason, limit, now)
            }
            fn compact(&self, policy: &RetentionPolicy, now: Timestamp) -> Result<RetentionReport, StoreError> {
                (**self).compact(policy, now)
            }
            fn read_changes(&self, after: Option<&ChangeCursor>, limit: u32) -> Result<ChangePage, StoreError> {
                (**self).read_changes(after, limit)
            }
            fn change_cursor(&self) -> Result<ChangeCursor, StoreError> { (**self).change_cursor() }
            fn warnings(&self, now: Timestamp) -> Result<Vec<StoreWarning>, StoreError> { (**self).warnings(now) }
        }
    )+};
}

forward_store!(&S, Box<S>, Arc<S>);
