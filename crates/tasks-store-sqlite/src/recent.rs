//! The records of claimed and running tasks as this store's writer last wrote them, so a
//! worker's next write to the task (a heartbeat, progress, the final write) need not read and
//! decode its whole row again: decoding a task's 33 columns (its JSON documents parsed, its
//! strings allocated) was a fifth of the instructions of a claim and finish cycle.
//!
//! The memory is right only while no other connection has written the file: then every change
//! to the tasks went through this writer, which keeps the memory up. SQLite tells exactly that:
//! `PRAGMA data_version` changes when another connection (another store on the same file, in
//! this process or another) commits. Each write transaction reads it once it holds the write
//! lock, and a version that moved empties the memory, so those tasks are read whole, as they
//! would be without it.
//!
//! Entries change only after a commit ([`Change`]s wait in the transaction), so a rolled-back
//! write never leaves a record that was not stored. A record is taken out when it is used (the
//! write that uses it puts its result back), so a write that fails after using it leaves the
//! task to be read whole next time, never a stale entry.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use tasks_core::{StoreError, TaskId, TaskRecord};

use crate::error::sql;
use crate::row::{self, TASK_COLUMNS};
use crate::tx::WriteTx;

/// At most this many records are remembered: the claimed and running tasks of the hosts in
/// this process, each already held by its attempt, so the memory at most doubles what the
/// hosts hold. Past it the memory starts over (a task then is read whole once more): nothing
/// can pile up, whatever happens to the tasks.
const MAX_RECORDS: usize = 1_024;

/// What a committed write changed in the memory.
#[derive(Debug)]
pub(crate) enum Change {
    /// The task is claimed or running as this record says.
    Remember(Box<TaskRecord>),
    /// The task ended or left this writer's hands.
    Forget(TaskId),
}

/// The remembered records, by task id. Owned by the writer connection.
#[derive(Debug, Default)]
pub(crate) struct RecentRecords {
    records: HashMap<TaskId, TaskRecord>,
    /// The file's `data_version` as the writer last saw it.
    data_version: Option<i64>,
}

impl RecentRecords {
    /// Empties the memory when another connection has committed since the writer last looked
    /// (`data_version` is what the writer reads now, inside its write transaction).
    pub(crate) fn check(&mut self, data_version: i64) {
        if self.data_version != Some(data_version) {
            self.records.clear();
            self.data_version = Some(data_version);
        }
    }

    /// Applies the changes of a committed transaction, in order.
    pub(crate) fn apply(&mut self, changes: Vec<Change>) {
        for change in changes {
            match change {
                Change::Remember(record) => {
                    if self.records.len() >= MAX_RECORDS && !self.records.contains_key(&record.id) {
                        self.records.clear();
                    }
                    self.records.insert(record.id.clone(), *record);
                }
                Change::Forget(id) => {
                    self.records.remove(&id);
                }
            }
        }
    }

    fn take(&mut self, id: &TaskId) -> Option<TaskRecord> {
        self.records.remove(id)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }
}

/// What a write that left a task as `new` changes in the memory.
pub(crate) fn change_of(new: &TaskRecord) -> Change {
    if new.status.is_active() && new.lease_token.is_some() {
        Change::Remember(Box::new(new.clone()))
    } else {
        Change::Forget(new.id.clone())
    }
}

/// The current record of the task `id`, or `None` when it does not exist.
pub(crate) fn load_one(tx: &WriteTx<'_>, id: &TaskId) -> Result<Option<TaskRecord>, StoreError> {
    let mut records = load(tx, &[id])?;
    Ok(records.pop())
}

/// The current records of the tasks `ids` (each once, in no particular order; ids of missing
/// tasks are skipped): the remembered ones from memory, the rest read whole.
pub(crate) fn load(tx: &WriteTx<'_>, ids: &[&TaskId]) -> Result<Vec<TaskRecord>, StoreError> {
    let mut seen: HashSet<&TaskId> = HashSet::with_capacity(ids.len());
    let mut records: Vec<TaskRecord> = Vec::with_capacity(ids.len());
    let mut unknown: Vec<&TaskId> = Vec::new();
    for &id in ids {
        if !seen.insert(id) {
            continue;
        }
        match tx.recent_mut(|recent| recent.take(id)) {
            Some(record) => records.push(record),
            None => unknown.push(id),
        }
    }
    records.extend(read_whole(tx, &unknown)?);
    Ok(records)
}

/// Reads and decodes the tasks with these ids (each once; missing ones skipped) in one
/// statement: the ids go in as one JSON array, so the statement text is the same for every
/// batch and stays prepared.
fn read_whole(tx: &WriteTx<'_>, ids: &[&TaskId]) -> Result<Vec<TaskRecord>, StoreError> {
    match ids {
        [] => Ok(Vec::new()),
        [id] => Ok(row::load_record(tx, id)?.into_iter().collect()),
        _ => {
            static TEXT: LazyLock<String> = LazyLock::new(|| {
                format!(
                    "SELECT {TASK_COLUMNS} FROM tasks \
                     WHERE id IN (SELECT value FROM json_each(?1))"
                )
            });
            let mut statement = tx.prepare_cached(&TEXT).map_err(sql)?;
            let mut rows = statement.query([row::json(&ids)?]).map_err(sql)?;
            let mut records = Vec::with_capacity(ids.len());
            while let Some(row) = rows.next().map_err(sql)? {
                records.push(row::read_record(row)?);
            }
            Ok(records)
        }
    }
}
