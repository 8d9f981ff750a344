//! Writes to one existing task: the lease-fenced worker writes (start, heartbeat, progress,
//! steps, complete, fail, acknowledge cancel, release), a user's cancel and an operator's
//! retry.
//!
//! Each loads the record inside the write transaction, applies core's pure transition, and
//! writes the result back with its change-feed entry. A refusal returns before anything is
//! written.

use tasks_core::transition;
use tasks_core::{
    AppendedSteps, ChangeKind, Lease, NewStep, StoreError, TaskId, TaskRecord, Timestamp,
    TransitionRefusal,
};

use crate::changes;
use crate::tx::WriteTx;
use crate::{enqueue, recent, row, update};

/// Writes back a record changed from `old` to `new` and logs the change.
pub(crate) fn save(tx: &WriteTx<'_>, old: TaskRecord, new: &TaskRecord) -> Result<(), StoreError> {
    update::update_record(tx, old, new)?;
    changes::log(tx, &new.id, new.revision, ChangeKind::Updated)
}

/// Loads the task of `lease`; a task that no longer exists has lost its lease too.
fn leased(tx: &WriteTx<'_>, lease: &Lease) -> Result<TaskRecord, StoreError> {
    recent::load_one(tx, &lease.task_id)?
        .ok_or_else(|| StoreError::LeaseLost { id: lease.task_id.clone() })
}

/// Applies a lease-fenced transition to the task of `lease` and saves the result.
pub(crate) fn worker_write(
    tx: &WriteTx<'_>,
    lease: &Lease,
    apply: impl FnOnce(&TaskRecord) -> Result<TaskRecord, TransitionRefusal>,
) -> Result<TaskRecord, StoreError> {
    let current = leased(tx, lease)?;
    let next = apply(&current).map_err(|refusal| StoreError::refused(&lease.task_id, refusal))?;
    save(tx, current, &next)?;
    Ok(next)
}

/// Appends steps to the task of `lease` (one revision for the whole batch).
pub(crate) fn append_steps(
    tx: &WriteTx<'_>,
    lease: &Lease,
    steps: &[NewStep],
    now: Timestamp,
) -> Result<AppendedSteps, StoreError> {
    let current = leased(tx, lease)?;
    let (task, steps) = transition::append_steps(&current, &lease.token, steps, now)
        .map_err(|refusal| StoreError::refused(&lease.task_id, refusal))?;
    row::insert_steps(tx, &steps)?;
    save(tx, current, &task)?;
    Ok(AppendedSteps { task, steps })
}

/// A user's cancel: queued tasks end at once, claimed or running ones get a cancel request; a
/// repeated request changes nothing (and logs nothing).
pub(crate) fn cancel(
    tx: &WriteTx<'_>,
    id: &TaskId,
    reason: Option<&str>,
    now: Timestamp,
) -> Result<TaskRecord, StoreError> {
    let current =
        row::load_record(tx, id)?.ok_or_else(|| StoreError::NotFound { id: id.clone() })?;
    let next = transition::request_cancel(&current, reason, now)
        .map_err(|refusal| StoreError::refused(id, refusal))?;
    if next.revision != current.revision {
        save(tx, current, &next)?;
    }
    Ok(next)
}

/// An operator's retry: the task is queued again, due now, with the `event` step core's
/// `retry` writes. A finished task whose dedupe key another open task now holds is refused.
pub(crate) fn retry(
    tx: &WriteTx<'_>,
    id: &TaskId,
    now: Timestamp,
) -> Result<TaskRecord, StoreError> {
    let current =
        row::load_record(tx, id)?.ok_or_else(|| StoreError::NotFound { id: id.clone() })?;
    let holder = match transition::retry_dedupe_key(&current) {
        Some(key) => enqueue::open_with_dedupe_key(tx, &current.kind, key)?.map(|open| open.id),
        None => None,
    };
    let (next, step) = transition::retry(&current, holder.as_ref(), now)
        .map_err(|refusal| StoreError::refused(id, refusal))?;
    row::insert_steps(tx, std::slice::from_ref(&step))?;
    save(tx, current, &next)?;
    Ok(next)
}
