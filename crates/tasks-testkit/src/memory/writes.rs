//! Writes of the memory store: enqueue (with dedupe and supersede), the lease-fenced worker
//! writes (one at a time or in batches), user cancels and operator retries. Each builds the new records with core's transitions before
//! storing any of them, so a refusal changes nothing.

use tasks_core::enqueue::{blocks_dedupe, is_superseded_by};
use tasks_core::transition::{self, superseded_reason};
use tasks_core::{
    EnqueueOutcome, Finish, InvalidInput, Lease, NewTask, StoreError, TaskId, TaskRecord,
    Timestamp, TransitionRefusal,
};

use std::collections::BTreeMap;

use super::State;

impl State {
    /// The tasks as they stand with `pending` (planned, not yet stored) writes applied.
    fn with_pending<'a>(
        &'a self,
        pending: &'a BTreeMap<TaskId, TaskRecord>,
    ) -> impl Iterator<Item = &'a TaskRecord> {
        let stored = self.tasks.iter().filter(|(id, _)| !pending.contains_key(*id));
        stored.map(|(_, record)| record).chain(pending.values())
    }

    /// Plans one enqueue against the stored tasks overlaid with `pending` writes, without
    /// changing anything: the outcome and the records to store (the new task and the
    /// superseded ones).
    fn plan_enqueue(
        &self,
        pending: &BTreeMap<TaskId, TaskRecord>,
        task: NewTask,
        now: Timestamp,
    ) -> Result<(EnqueueOutcome, Vec<TaskRecord>), StoreError> {
        let supersede_existing = task.options.supersede_existing;
        let record = task.into_record(now)?;
        if let Some(key) = &record.dedupe_key {
            // At most one open task blocks a kind and key, so the scan order does not matter.
            let open =
                self.with_pending(pending).find(|other| blocks_dedupe(other, &record.kind, key));
            if let Some(existing) = open {
                return Ok((EnqueueOutcome::reused(existing.clone()), Vec::new()));
            }
        }
        if pending.contains_key(&record.id) || self.tasks.contains_key(&record.id) {
            return Err(InvalidInput::DuplicateId { id: record.id }.into());
        }
        let mut writes = Vec::new();
        let mut superseded_task_ids = Vec::new();
        if let (true, Some(key)) = (supersede_existing, &record.supersede_key) {
            let reason = superseded_reason(&record.id);
            let mut replaced: Vec<&TaskRecord> = self
                .with_pending(pending)
                .filter(|other| is_superseded_by(other, &record.kind, key))
                .collect();
            // Superseded ids are reported in id order.
            replaced.sort_by(|a, b| a.id.cmp(&b.id));
            for other in replaced {
                let next = transition::request_cancel(other, Some(&reason), now)
                    .map_err(|refusal| StoreError::refused(&other.id, refusal))?;
                superseded_task_ids.push(other.id.clone());
                if next.revision != other.revision {
                    writes.push(next);
                }
            }
        }
        writes.push(record.clone());
        Ok((EnqueueOutcome::created(record, superseded_task_ids), writes))
    }

    /// Enqueues a batch in order; nothing is stored unless every task is accepted.
    pub(super) fn enqueue_batch(
        &mut self,
        tasks: Vec<NewTask>,
        now: Timestamp,
    ) -> Result<Vec<EnqueueOutcome>, StoreError> {
        // Later tasks see earlier ones through the pending overlay; nothing is stored until
        // every task is accepted. (Cloning the whole map instead made each enqueue O(tasks).)
        let mut pending: BTreeMap<TaskId, TaskRecord> = BTreeMap::new();
        let mut all_writes = Vec::new();
        let mut outcomes = Vec::with_capacity(tasks.len());
        for task in tasks {
            let (outcome, writes) = self.plan_enqueue(&pending, task, now)?;
            for record in writes {
                pending.insert(record.id.clone(), record.clone());
                all_writes.push(record);
            }
            outcomes.push(outcome);
        }
        for record in all_writes {
            self.put(record);
        }
        Ok(outcomes)
    }

    /// Loads a task for a write, or `NotFound`.
    pub(super) fn task(&self, id: &TaskId) -> Result<&TaskRecord, StoreError> {
        self.tasks.get(id).ok_or_else(|| StoreError::NotFound { id: id.clone() })
    }

    /// Applies a lease-fenced transition to the task of `lease` and stores the result. A task
    /// that no longer exists has lost its lease too.
    pub(super) fn worker_write(
        &mut self,
        lease: &Lease,
        apply: impl FnOnce(&TaskRecord) -> Result<TaskRecord, TransitionRefusal>,
    ) -> Result<TaskRecord, StoreError> {
        let current = self
            .tasks
            .get(&lease.task_id)
            .ok_or_else(|| StoreError::LeaseLost { id: lease.task_id.clone() })?;
        let next =
            apply(current).map_err(|refusal| StoreError::refused(&lease.task_id, refusal))?;
        self.put(next.clone());
        Ok(next)
    }

    pub(super) fn cancel(
        &mut self,
        id: &TaskId,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        let current = self.task(id)?;
        let next = transition::request_cancel(current, reason, now)
            .map_err(|refusal| StoreError::refused(id, refusal))?;
        if next.revision != current.revision {
            self.put(next.clone());
        }
        Ok(next)
    }

    /// A batch of starts under the one lock: each item as `start` alone, in order.
    pub(super) fn start_batch(
        &mut self,
        leases: &[Lease],
        now: Timestamp,
    ) -> Vec<Result<TaskRecord, StoreError>> {
        leases
            .iter()
            .map(|lease| {
                self.worker_write(lease, |record| transition::start(record, &lease.token, now))
            })
            .collect()
    }

    /// One finish as its single call: validated first, then applied to the task of its lease.
    pub(super) fn finish(
        &mut self,
        finish: &Finish,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        finish.validate()?;
        self.worker_write(finish.lease(), |record| finish.apply(record, now))
    }

    /// An operator's retry: the task is queued again, due now, with an event step saying so.
    pub(super) fn retry(&mut self, id: &TaskId, now: Timestamp) -> Result<TaskRecord, StoreError> {
        let current = self.task(id)?;
        let holder = transition::retry_dedupe_key(current).and_then(|key| {
            self.tasks
                .values()
                .find(|other| other.id != *id && blocks_dedupe(other, &current.kind, key))
                .map(|other| other.id.clone())
        });
        let (next, step) = transition::retry(current, holder.as_ref(), now)
            .map_err(|refusal| StoreError::refused(id, refusal))?;
        self.put_steps(vec![step]);
        self.put(next.clone());
        Ok(next)
    }
}
