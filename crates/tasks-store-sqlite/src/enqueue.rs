//! Enqueueing inside one write transaction: validation, dedupe, duplicate ids, supersede and
//! insert, in that order, exactly as `tasks_core::enqueue` says.

use std::sync::LazyLock;

use rusqlite::OptionalExtension;
use tasks_core::transition::{self, superseded_reason};
use tasks_core::{
    EnqueueOutcome, InvalidInput, NewTask, StoreError, TaskId, TaskRecord, Timestamp,
};

use crate::error::sql;
use crate::insert;
use crate::row::{self, TASK_COLUMNS};
use crate::schema::OPEN_STATUS;
use crate::tx::WriteTx;
use crate::writes::save;

/// Enqueues `tasks` in order, each seeing the ones before it. The caller's transaction makes
/// the batch all or nothing.
pub(crate) fn enqueue_batch(
    tx: &WriteTx<'_>,
    tasks: Vec<NewTask>,
    now: Timestamp,
) -> Result<Vec<EnqueueOutcome>, StoreError> {
    let mut outcomes: Vec<EnqueueOutcome> = Vec::with_capacity(tasks.len());
    // `outcomes[pending..]` are plain new tasks not yet inserted: they are written together,
    // many rows per statement, before anything that must see them (a dedupe, id or supersede
    // lookup) and at the end.
    let mut pending = 0;
    for task in tasks {
        if is_plain(&task) {
            outcomes.push(EnqueueOutcome::created(task.into_record(now)?, Vec::new()));
        } else {
            insert_created(tx, &outcomes[pending..])?;
            outcomes.push(enqueue(tx, task, now)?);
            pending = outcomes.len();
        }
    }
    insert_created(tx, &outcomes[pending..])?;
    Ok(outcomes)
}

/// Whether enqueueing `task` needs no lookup: no dedupe key, no caller id, no supersede. Such a
/// task is created as is, whatever the store holds.
fn is_plain(task: &NewTask) -> bool {
    task.options.dedupe_key.is_none()
        && task.options.id.is_none()
        && !task.options.supersede_existing
}

/// Inserts created tasks and logs their creation.
fn insert_created(tx: &WriteTx<'_>, created: &[EnqueueOutcome]) -> Result<(), StoreError> {
    if created.is_empty() {
        return Ok(());
    }
    insert::insert_records(tx, created.iter().map(|outcome| &outcome.task))?;
    insert::log_updates(tx, created.iter().map(|outcome| &outcome.task))
}

/// Enqueues one task.
pub(crate) fn enqueue(
    tx: &WriteTx<'_>,
    task: NewTask,
    now: Timestamp,
) -> Result<EnqueueOutcome, StoreError> {
    let caller_id = task.options.id.is_some();
    let supersede_existing = task.options.supersede_existing;
    let record = task.into_record(now)?;
    if let Some(key) = &record.dedupe_key
        && let Some(existing) = open_with_dedupe_key(tx, &record.kind, key)?
    {
        return Ok(EnqueueOutcome::reused(existing));
    }
    // A generated ULID cannot collide; only a caller's id needs the lookup (and the primary
    // key would refuse a collision anyway).
    if caller_id && exists(tx, &record.id)? {
        return Err(InvalidInput::DuplicateId { id: record.id }.into());
    }
    let mut superseded_task_ids = Vec::new();
    if let (true, Some(key)) = (supersede_existing, &record.supersede_key) {
        let reason = superseded_reason(&record.id);
        for other in open_with_supersede_key(tx, &record.kind, key)? {
            let next = transition::request_cancel(&other, Some(&reason), now)
                .map_err(|refusal| StoreError::refused(&other.id, refusal))?;
            superseded_task_ids.push(other.id.clone());
            if next.revision != other.revision {
                save(tx, other, &next)?;
            }
        }
    }
    insert::insert_records(tx, std::iter::once(&record))?;
    insert::log_updates(tx, std::iter::once(&record))?;
    Ok(EnqueueOutcome::created(record, superseded_task_ids))
}

/// The open task of `kind` and `key` with no cancel requested, which a new task reuses (and
/// which keeps an operator from reopening a finished task holding the same key).
pub(crate) fn open_with_dedupe_key(
    tx: &WriteTx<'_>,
    kind: &str,
    key: &str,
) -> Result<Option<TaskRecord>, StoreError> {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE kind = ?1 AND dedupe_key = ?2 \
             AND {OPEN_STATUS} AND cancel_requested_at IS NULL ORDER BY id LIMIT 1"
        )
    });
    let mut statement = tx.prepare_cached(&TEXT).map_err(sql)?;
    let mut rows = statement.query([kind, key]).map_err(sql)?;
    match rows.next().map_err(sql)? {
        Some(row) => row::read_record(row).map(Some),
        None => Ok(None),
    }
}

/// The open tasks of `kind` and `key`, which a superseding task replaces, by id.
fn open_with_supersede_key(
    tx: &WriteTx<'_>,
    kind: &str,
    key: &str,
) -> Result<Vec<TaskRecord>, StoreError> {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE kind = ?1 AND supersede_key = ?2 \
             AND {OPEN_STATUS} ORDER BY id"
        )
    });
    row::query_records(tx, &TEXT, &[kind.to_owned().into(), key.to_owned().into()])
}

fn exists(tx: &WriteTx<'_>, id: &TaskId) -> Result<bool, StoreError> {
    tx.prepare_cached("SELECT 1 FROM tasks WHERE id = ?1")
        .map_err(sql)?
        .query_row([id.as_str()], |_| Ok(()))
        .optional()
        .map_err(sql)
        .map(|found| found.is_some())
}
