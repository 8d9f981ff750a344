//! Batched worker writes, `start_batch` and `finish_batch`, in the caller's one write
//! transaction and a fixed number of statements whatever the batch size: one read of every
//! task the batch names (none for the tasks the writer remembers: see `recent`), core's
//! transitions applied in memory in input order, one write back of the changed rows (grouped
//! by the columns they changed) and one insert of the change-feed entries.
//!
//! Each item gives exactly what its single call gives: it is validated as the single call
//! validates, and fenced against the task as the items before it left it (a lease given twice
//! finds its task already changed by the first). A refused item writes nothing.

use std::collections::HashMap;

use tasks_core::transition;
use tasks_core::{Finish, Lease, StoreError, TaskId, TaskRecord, Timestamp, TransitionRefusal};

use crate::tx::WriteTx;
use crate::{insert, recent, update};

/// The per-item results of a batch.
pub(crate) type BatchResults = Vec<Result<TaskRecord, StoreError>>;

/// Starts the claimed tasks of `leases`.
pub(crate) fn start_batch(
    tx: &WriteTx<'_>,
    leases: &[Lease],
    now: Timestamp,
) -> Result<BatchResults, StoreError> {
    apply(
        tx,
        leases,
        |lease| Ok(lease),
        |lease, record| transition::start(record, &lease.token, now),
    )
}

/// Applies `finishes` (complete, fail, acknowledge a cancel).
pub(crate) fn finish_batch(
    tx: &WriteTx<'_>,
    finishes: &[Finish],
    now: Timestamp,
) -> Result<BatchResults, StoreError> {
    apply(
        tx,
        finishes,
        |finish| finish.validate().map(|()| finish.lease()).map_err(StoreError::from),
        |finish, record| finish.apply(record, now),
    )
}

/// Applies one lease-fenced transition per item. `admit` validates an item and names its lease
/// (an error is the item's result); `transition` is the item's change of its task.
fn apply<T>(
    tx: &WriteTx<'_>,
    items: &[T],
    admit: impl Fn(&T) -> Result<&Lease, StoreError>,
    transition: impl Fn(&T, &TaskRecord) -> Result<TaskRecord, TransitionRefusal>,
) -> Result<BatchResults, StoreError> {
    let admitted: Vec<Result<&Lease, StoreError>> = items.iter().map(&admit).collect();
    let ids: Vec<&TaskId> = admitted.iter().flatten().map(|lease| &lease.task_id).collect();
    // Each task as loaded, and which result holds it as the items so far left it (none yet:
    // it is as loaded). Results are not cloned to be kept: a later item of the same task reads
    // its record from the results.
    let mut tasks: HashMap<TaskId, (TaskRecord, Option<usize>)> = recent::load(tx, &ids)?
        .into_iter()
        .map(|record| (record.id.clone(), (record, None)))
        .collect();
    let mut results: BatchResults = Vec::with_capacity(items.len());
    for (item, admitted) in items.iter().zip(admitted) {
        let lease = match admitted {
            Ok(lease) => lease,
            Err(error) => {
                results.push(Err(error));
                continue;
            }
        };
        // A task that no longer exists has lost its lease too.
        let Some((loaded, latest)) = tasks.get_mut(&lease.task_id) else {
            results.push(Err(StoreError::LeaseLost { id: lease.task_id.clone() }));
            continue;
        };
        let current = match *latest {
            Some(index) => results[index].as_ref().unwrap_or(loaded),
            None => loaded,
        };
        match transition(item, current) {
            Ok(next) => {
                *latest = Some(results.len());
                results.push(Ok(next));
            }
            Err(refusal) => results.push(Err(StoreError::refused(&lease.task_id, refusal))),
        }
    }
    let changed: Vec<(TaskRecord, &TaskRecord)> = tasks
        .into_values()
        .filter_map(|(loaded, latest)| {
            let current = results[latest?].as_ref().ok()?;
            (current.revision != loaded.revision).then_some((loaded, current))
        })
        .collect();
    update::update_records(tx, changed)?;
    insert::log_updates(tx, results.iter().filter_map(|result| result.as_ref().ok()))?;
    Ok(results)
}
