//! Single-task writes: the lease-fenced worker writes (start, heartbeat, progress, steps,
//! complete, fail, cancel acknowledgement, release) and a user's cancel, on the general path
//! (the most frequent ones have one-statement forms in `fast`).
//!
//! Each single write is two round trips and no explicit transaction: read the row, apply
//! core's transition, then one autocommit statement writes the changed columns (and inserts
//! the steps) only if the row still has the revision that was read. If it moved, the write
//! starts over from a fresh read, so the result is exactly what core's transition gives for
//! the row as committed. These writes commit durably (heartbeats, progress and steps, on
//! the relaxed pool, are in `fast`).

use tasks_core::{Lease, StepRecord, StoreError, TaskId, TaskRecord, TransitionRefusal};

use crate::pool::{Db, OpError};
use crate::row::{UpdateArrays, task_from_row};
use crate::sql::write;
use crate::store::{Durability, PostgresTaskStore};

/// What a transition made of a record.
pub(crate) enum Applied {
    /// The record is unchanged (a repeated cancel request): nothing to write.
    Unchanged,
    /// The new record and the steps it adds.
    Changed(Box<TaskRecord>, Vec<StepRecord>),
}

impl PostgresTaskStore {
    /// Applies `apply` to task `id` and writes the result (see the module docs). `missing`
    /// is the error for an unknown id.
    pub(crate) fn write_one(
        &self,
        durability: Durability,
        id: &TaskId,
        missing: fn(&TaskId) -> StoreError,
        apply: impl Fn(&TaskRecord) -> Result<Applied, StoreError>,
    ) -> Result<(TaskRecord, Vec<StepRecord>), StoreError> {
        let sql = &self.inner.sql;
        self.run(durability, |conn| {
            let rows = conn.query(&sql.select_task, &[&id.as_str()])?;
            let Some(row) = rows.first() else { return Err(missing(id).into()) };
            let current = task_from_row(row)?;
            let (next, steps) = match apply(&current)? {
                Applied::Unchanged => return Ok((current, Vec::new())),
                Applied::Changed(next, steps) => (*next, steps),
            };
            let mut updates = UpdateArrays::default();
            updates.push(&current, &next);
            let written = write(conn, sql, &updates, &steps).map_err(OpError::unknown)?;
            if written == 0 {
                // Changed since we read it: apply the transition to what is there now.
                return Err(OpError::Retry);
            }
            Ok((next, steps))
        })
    }

    /// A lease-fenced write: an unknown task has lost its lease too.
    pub(crate) fn worker_write(
        &self,
        durability: Durability,
        lease: &Lease,
        apply: impl Fn(&TaskRecord) -> Result<TaskRecord, TransitionRefusal>,
    ) -> Result<TaskRecord, StoreError> {
        let (record, _) = self.write_one(durability, &lease.task_id, lease_lost, |record| {
            apply(record)
                .map(|next| Applied::Changed(Box::new(next), Vec::new()))
                .map_err(|refusal| StoreError::refused(&record.id, refusal))
        })?;
        Ok(record)
    }
}

/// The error of a worker write on a task that no longer exists.
pub(crate) fn lease_lost(id: &TaskId) -> StoreError {
    StoreError::LeaseLost { id: id.clone() }
}

/// The error of a user write on an unknown task.
pub(crate) fn not_found(id: &TaskId) -> StoreError {
    StoreError::NotFound { id: id.clone() }
}
