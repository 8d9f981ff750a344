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

/// At most this many records are remembered (the claimed and running tasks of the hosts in
/// this process, with room to spare), and at most [`MAX_BYTES`] of them by estimate. Past
/// either the memory starts over (its tasks are then read whole once more): nothing can pile
/// up, whatever happens to the tasks.
const MAX_RECORDS: usize = 1_024;

/// The estimated size of the remembered records, at most (see [`estimated_bytes`]).
const MAX_BYTES: usize = 32 << 20;

/// A record larger than this by estimate is not remembered: its decoding is a small part of
/// its write, and it would crowd the others out.
const MAX_RECORD_BYTES: usize = 256 << 10;

/// What a committed write changed in the memory.
#[derive(Debug)]
pub(crate) enum Change {
    /// The task is claimed or running as this record says.
    Remember(Box<TaskRecord>),
    /// The task ended or left this writer's hands.
    Forget(TaskId),
}

impl Change {
    /// The task the change is about.
    pub(crate) fn task_id(&self) -> &TaskId {
        match self {
            Change::Remember(record) => &record.id,
            Change::Forget(id) => id,
        }
    }
}

/// The remembered records, by task id. Owned by the writer connection.
#[derive(Debug, Default)]
pub(crate) struct RecentRecords {
    /// Each record with its estimated size.
    records: HashMap<TaskId, (TaskRecord, usize)>,
    /// The sum of the estimated sizes.
    bytes: usize,
    /// The file's `data_version` as the writer last saw it.
    data_version: Option<i64>,
}

impl RecentRecords {
    /// Empties the memory when another connection has committed since the writer last looked
    /// (`data_version` is what the writer reads now, inside its write transaction).
    pub(crate) fn check(&mut self, data_version: i64) {
        if self.data_version != Some(data_version) {
            self.clear();
            self.data_version = Some(data_version);
        }
    }

    fn clear(&mut self) {
        self.records.clear();
        self.bytes = 0;
    }

    /// Applies the changes of a committed transaction, in order.
    pub(crate) fn apply(&mut self, changes: Vec<Change>) {
        for change in changes {
            match change {
                Change::Remember(record) => {
                    self.forget(&record.id);
                    let bytes = estimated_bytes(&record);
                    if bytes > MAX_RECORD_BYTES {
                        continue;
                    }
                    if self.records.len() >= MAX_RECORDS || self.bytes + bytes > MAX_BYTES {
                        self.clear();
                    }
                    self.bytes += bytes;
                    self.records.insert(record.id.clone(), (*record, bytes));
                }
                Change::Forget(id) => self.forget(&id),
            }
        }
    }

    /// Removes the record of `id`, if remembered.
    pub(crate) fn forget(&mut self, id: &TaskId) {
        self.take(id);
    }

    /// Takes the record of `id` out, if remembered.
    pub(crate) fn take(&mut self, id: &TaskId) -> Option<TaskRecord> {
        let (record, bytes) = self.records.remove(id)?;
        self.bytes -= bytes;
        Some(record)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }
}

/// What a write that changed a task from `old` to `new` changes in the memory: a task still
/// claimed or running is remembered as the row now is, anything else is forgotten.
///
/// The record remembered is `old` with the mutable columns `update` writes taken from `new`,
/// so it is exactly what the row holds after the write, and the parts a write never changes
/// (the input, metadata, channels, keys) are moved rather than copied: copying the whole
/// record was 3% of the instructions of a claim and finish cycle.
pub(crate) fn change_after(mut old: TaskRecord, new: &TaskRecord) -> Change {
    if !(new.status.is_active() && new.lease_token.is_some()) {
        return Change::Forget(old.id);
    }
    take_mutable(&mut old, new);
    Change::Remember(Box::new(old))
}

/// Sets in `record` the mutable columns of `update` (everything but the task's identity,
/// input, metadata, keys, channels, priority and creation time) as `new` has them, reusing
/// the buffers `record` already holds.
fn take_mutable(record: &mut TaskRecord, new: &TaskRecord) {
    record.status = new.status;
    record.output.clone_from(&new.output);
    record.error.clone_from(&new.error);
    record.progress_percent = new.progress_percent;
    record.progress_label.clone_from(&new.progress_label);
    record.progress_meta.clone_from(&new.progress_meta);
    record.attempt = new.attempt;
    record.max_attempts = new.max_attempts;
    record.scheduled_at = new.scheduled_at;
    record.updated_at = new.updated_at;
    record.claimed_at = new.claimed_at;
    record.started_at = new.started_at;
    record.finished_at = new.finished_at;
    record.cancel_requested_at = new.cancel_requested_at;
    record.lease_owner.clone_from(&new.lease_owner);
    record.lease_token.clone_from(&new.lease_token);
    record.lease_expires_at = new.lease_expires_at;
    record.last_heartbeat_at = new.last_heartbeat_at;
    record.retry_scheduled_at = new.retry_scheduled_at;
    record.stale_at = new.stale_at;
    record.stale_reason.clone_from(&new.stale_reason);
    record.last_step_seq = new.last_step_seq;
    record.revision = new.revision;
}

/// A rough size of `record` in memory: a fixed part for its fields and short strings, plus
/// its JSON documents walked. Only an upper-bound guard, so it need not be exact.
fn estimated_bytes(record: &TaskRecord) -> usize {
    let objects = [&record.metadata, &record.progress_meta].into_iter().flatten().map(object_bytes);
    1_024
        + json_bytes(&record.input)
        + record.output.as_ref().map_or(0, json_bytes)
        + objects.sum::<usize>()
}

fn object_bytes(map: &serde_json::Map<String, serde_json::Value>) -> usize {
    32 + map.iter().map(|(key, value)| 64 + key.len() + json_bytes(value)).sum::<usize>()
}

fn json_bytes(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 32,
        Value::String(text) => 32 + text.len(),
        Value::Array(items) => 32 + items.iter().map(json_bytes).sum::<usize>(),
        Value::Object(map) => object_bytes(map),
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
        match tx.take_remembered(id) {
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

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tasks_core::{LeaseToken, NewTask, TaskRecord, Timestamp, transition};

    use super::{Change, MAX_RECORD_BYTES, MAX_RECORDS, RecentRecords, change_after};
    use crate::update::every_mutable_column_changed;

    fn claimed(input: serde_json::Value) -> TaskRecord {
        let now = Timestamp::from_millis(1_000);
        let queued = NewTask::new("work", input).into_record(now).expect("a valid task");
        let lease = std::time::Duration::from_secs(60);
        transition::claim(&queued, "runner", LeaseToken::generate(), lease, now).expect("claims")
    }

    fn remember(recent: &mut RecentRecords, record: &TaskRecord) {
        recent.apply(vec![Change::Remember(Box::new(record.clone()))]);
    }

    #[test]
    fn a_record_is_taken_once_and_forgotten() {
        let mut recent = RecentRecords::default();
        let record = claimed(json!({"n": 1}));
        remember(&mut recent, &record);
        assert_eq!(recent.take(&record.id).as_ref(), Some(&record));
        assert!(recent.take(&record.id).is_none(), "taken out when used");
        remember(&mut recent, &record);
        recent.apply(vec![Change::Forget(record.id.clone())]);
        assert_eq!((recent.len(), recent.bytes), (0, 0));
    }

    #[test]
    fn a_large_record_is_not_remembered() {
        let mut recent = RecentRecords::default();
        let large = claimed(json!({"blob": "x".repeat(MAX_RECORD_BYTES)}));
        remember(&mut recent, &large);
        assert_eq!(recent.len(), 0);
    }

    #[test]
    fn the_memory_starts_over_past_its_bounds() {
        let mut recent = RecentRecords::default();
        let records: Vec<TaskRecord> = (0..=MAX_RECORDS).map(|n| claimed(json!(n))).collect();
        for record in &records[..MAX_RECORDS] {
            remember(&mut recent, record);
        }
        assert_eq!(recent.len(), MAX_RECORDS);
        remember(&mut recent, &records[MAX_RECORDS]);
        assert_eq!(recent.len(), 1, "one past the count starts over");
        // By size: records of just under the single-record limit fill the byte budget.
        let mut recent = RecentRecords::default();
        let big = |n: usize| claimed(json!({"n": n, "blob": "x".repeat(MAX_RECORD_BYTES - 4_096)}));
        let mut kept = 0;
        for n in 0..200 {
            remember(&mut recent, &big(n));
            assert!(recent.bytes <= super::MAX_BYTES);
            kept = kept.max(recent.len());
        }
        assert!(kept < 200, "the byte budget bounds the memory before the count does");
    }

    #[test]
    fn another_connections_commit_empties_the_memory() {
        let mut recent = RecentRecords::default();
        recent.check(7);
        remember(&mut recent, &claimed(json!(1)));
        recent.check(7);
        assert_eq!(recent.len(), 1, "the same version keeps it");
        recent.check(8);
        assert_eq!((recent.len(), recent.bytes), (0, 0));
    }

    #[test]
    fn a_write_remembers_the_row_as_it_now_is() {
        let old = claimed(json!({"n": 1}));
        let new = every_mutable_column_changed(&old);
        let Change::Remember(remembered) = change_after(old.clone(), &new) else {
            panic!("a running task with a lease is remembered");
        };
        assert_eq!(*remembered, new, "every mutable column is taken from the new record");

        // A column `update` never writes stays as the row holds it.
        let mut moved = new.clone();
        moved.input = json!({"n": 2});
        let Change::Remember(remembered) = change_after(old.clone(), &moved) else {
            panic!("still running");
        };
        assert_eq!(remembered.input, old.input);
    }

    #[test]
    fn a_write_that_ends_the_lease_forgets_the_task() {
        let old = claimed(json!({"n": 1}));
        let mut ended = every_mutable_column_changed(&old);
        ended.status = tasks_core::TaskStatus::Succeeded;
        assert!(matches!(change_after(old.clone(), &ended), Change::Forget(id) if id == old.id));
        let mut released = every_mutable_column_changed(&old);
        released.lease_token = None;
        assert!(matches!(change_after(old.clone(), &released), Change::Forget(id) if id == old.id));
    }
}
