//! An operator's retry ("run it again now"): core's [`transition::retry`], with the dedupe
//! rule held by the database.
//!
//! Read the task; when running it again would reopen its dedupe key
//! ([`transition::retry_dedupe_key`]), look for the open task of its kind that holds the key
//! (core refuses the retry when there is one); apply the transition; write the task and its
//! event step in one statement guarded by the revision that was read. Two races end in a fresh
//! attempt: the task changed since it was read (the guard matched nothing), or another task
//! took the dedupe key after we looked (the partial unique index refuses our write), and the
//! next attempt sees that holder and refuses.

use tasks_core::transition;
use tasks_core::{StoreError, TaskId, TaskRecord, Timestamp};

use crate::error::unique_violation;
use crate::pool::{Db, OpError};
use crate::row::{UpdateArrays, task_from_row};
use crate::sql::write;
use crate::store::{Durability, PostgresTaskStore};
use crate::worker::not_found;

impl PostgresTaskStore {
    pub(crate) fn retry_task(&self, id: &TaskId, now: Timestamp) -> Result<TaskRecord, StoreError> {
        let sql = &self.inner.sql;
        let record = self.run(Durability::Full, |conn| {
            let rows = conn.query(&sql.select_task, &[&id.as_str()])?;
            let Some(row) = rows.first() else { return Err(not_found(id).into()) };
            let current = task_from_row(row)?;
            let holder = match transition::retry_dedupe_key(&current) {
                Some(key) => {
                    let rows = conn.query(&sql.find_dedupe, &[&current.kind, &key])?;
                    rows.first().map(task_from_row).transpose()?.map(|holder| holder.id)
                }
                None => None,
            };
            let (next, step) = transition::retry(&current, holder.as_ref(), now)
                .map_err(|refusal| StoreError::refused(id, refusal))?;
            let mut updates = UpdateArrays::default();
            updates.push(&current, &next);
            let written = write(conn, sql, &updates, &[step]).map_err(|err| {
                match unique_violation(&err) {
                    // Another task took the dedupe key since we looked: look again.
                    Some(_) => OpError::Retry,
                    None => OpError::unknown(err),
                }
            })?;
            if written == 0 {
                return Err(OpError::Retry);
            }
            Ok(next)
        })?;
        self.wake();
        Ok(record)
    }
}
