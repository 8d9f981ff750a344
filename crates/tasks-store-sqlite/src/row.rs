//! Rows and records: how a [`TaskRecord`] and a [`StepRecord`] are read back from their tables
//! (column lists, loading, decoding), the insert of steps, and the integer and JSON encodings
//! shared by the writers (`insert` adds tasks, `update` writes changed ones back).
//!
//! Every value read back is checked: text that does not decode into the model's types is a
//! [`StoreError::Backend`] naming the column, never a panic.
//!
//! Every `LIMIT` and `OFFSET` in this crate is an integer literal in the statement text, never
//! a bound parameter: since SQLite 3.47 the query planner reads the value bound to a `LIMIT ?`
//! of an ordered query, so binding any value to it expires the statement and the next step
//! prepares it again (re-preparing the claim query took a quarter of the time of a one-task
//! claim). The limits are validated integers, so the text stays safe, and each distinct value
//! is prepared once and then served from the statement cache.

use std::sync::LazyLock;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Row, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tasks_core::{
    LeaseToken, StepId, StepKind, StepLevel, StepRecord, StoreError, TaskId, TaskRecord,
    TaskStatus, Timestamp,
};

use crate::error::{corrupt, sql};
use crate::tx::WriteTx;

/// The columns of `tasks`, in the order [`read_record`] expects.
pub(crate) const TASK_COLUMNS: &str = "id, kind, status, input, output, error, metadata, \
    progress_percent, progress_label, progress_meta, concurrency_key, dedupe_key, supersede_key, \
    channels, attempt, max_attempts, priority, scheduled_at, created_at, updated_at, claimed_at, \
    started_at, finished_at, cancel_requested_at, lease_owner, lease_token, lease_expires_at, \
    last_heartbeat_at, retry_scheduled_at, stale_at, stale_reason, last_step_seq, revision";

/// Column positions of [`TASK_COLUMNS`] that the claim path reads before decoding a record.
pub(crate) const COL_ID: usize = 0;
/// The `kind` column.
pub(crate) const COL_KIND: usize = 1;
/// The `concurrency_key` column.
pub(crate) const COL_CONCURRENCY_KEY: usize = 10;

/// The columns of `tasks_steps`, in the order [`read_step`] expects.
pub(crate) const STEP_COLUMNS: &str =
    "id, task_id, seq, attempt, kind, level, message, meta, percent, created_at";

/// An integer column as the store keeps it.
pub(crate) fn int(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| corrupt(format_args!("{value} is beyond 64-bit integers")))
}

fn ts(at: Timestamp) -> i64 {
    at.as_millis()
}

/// A document as JSON text.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::backend("cannot serialize a document", e))
}

/// An optional document as JSON text.
pub(crate) fn opt_json<T: Serialize>(value: Option<&T>) -> Result<Option<String>, StoreError> {
    value.map(json).transpose()
}

/// Inserts steps.
pub(crate) fn insert_steps(tx: &WriteTx<'_>, steps: &[StepRecord]) -> Result<(), StoreError> {
    if steps.is_empty() {
        return Ok(());
    }
    let mut statement = tx
        .prepare_cached(
            "INSERT INTO tasks_steps (id, task_id, seq, attempt, kind, level, message, meta, \
             percent, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(sql)?;
    for step in steps {
        statement
            .execute(params![
                step.id.as_str(),
                step.task_id.as_str(),
                int(step.seq)?,
                step.attempt,
                step.kind.as_str(),
                step.level.as_str(),
                step.message,
                opt_json(step.meta.as_ref())?,
                step.percent,
                ts(step.created_at),
            ])
            .map_err(sql)?;
    }
    Ok(())
}

/// Loads one record by id.
pub(crate) fn load_record(
    conn: &rusqlite::Connection,
    id: &TaskId,
) -> Result<Option<TaskRecord>, StoreError> {
    static TEXT: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1"));
    let mut statement = conn.prepare_cached(&TEXT).map_err(sql)?;
    let mut rows = statement.query([id.as_str()]).map_err(sql)?;
    match rows.next().map_err(sql)? {
        Some(row) => read_record(row).map(Some),
        None => Ok(None),
    }
}

/// Runs a query returning [`TASK_COLUMNS`] and decodes every row.
pub(crate) fn query_records(
    conn: &rusqlite::Connection,
    sql_text: &str,
    params: &[Value],
) -> Result<Vec<TaskRecord>, StoreError> {
    let mut statement = conn.prepare_cached(sql_text).map_err(sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(params.iter())).map_err(sql)?;
    let mut records = Vec::new();
    while let Some(row) = rows.next().map_err(sql)? {
        records.push(read_record(row)?);
    }
    Ok(records)
}

/// Decodes a row of [`TASK_COLUMNS`].
pub(crate) fn read_record(row: &Row<'_>) -> Result<TaskRecord, StoreError> {
    let id: String = get(row, 0, "id")?;
    let id = TaskId::new(id).map_err(|e| corrupt(format_args!("task id: {e}")))?;
    let status: String = get(row, 2, "status")?;
    let status = TaskStatus::parse(&status)
        .ok_or_else(|| corrupt(format_args!("task {id} has status {status:?}")))?;
    Ok(TaskRecord {
        kind: get(row, 1, "kind")?,
        status,
        input: get_json(row, 3, "input")?,
        output: get_opt_json(row, 4, "output")?,
        error: get_opt_json(row, 5, "error")?,
        metadata: get_opt_json(row, 6, "metadata")?,
        progress_percent: get(row, 7, "progress_percent")?,
        progress_label: get(row, 8, "progress_label")?,
        progress_meta: get_opt_json(row, 9, "progress_meta")?,
        concurrency_key: get(row, 10, "concurrency_key")?,
        dedupe_key: get(row, 11, "dedupe_key")?,
        supersede_key: get(row, 12, "supersede_key")?,
        channels: get_json(row, 13, "channels")?,
        attempt: get(row, 14, "attempt")?,
        max_attempts: get(row, 15, "max_attempts")?,
        priority: get(row, 16, "priority")?,
        scheduled_at: get_ts(row, 17, "scheduled_at")?,
        created_at: get_ts(row, 18, "created_at")?,
        updated_at: get_ts(row, 19, "updated_at")?,
        claimed_at: get_opt_ts(row, 20, "claimed_at")?,
        started_at: get_opt_ts(row, 21, "started_at")?,
        finished_at: get_opt_ts(row, 22, "finished_at")?,
        cancel_requested_at: get_opt_ts(row, 23, "cancel_requested_at")?,
        lease_owner: get(row, 24, "lease_owner")?,
        lease_token: get::<Option<String>>(row, 25, "lease_token")?.map(LeaseToken::from_stored),
        lease_expires_at: get_opt_ts(row, 26, "lease_expires_at")?,
        last_heartbeat_at: get_opt_ts(row, 27, "last_heartbeat_at")?,
        retry_scheduled_at: get_opt_ts(row, 28, "retry_scheduled_at")?,
        stale_at: get_opt_ts(row, 29, "stale_at")?,
        stale_reason: get(row, 30, "stale_reason")?,
        last_step_seq: get_u64(row, 31, "last_step_seq")?,
        revision: get_u64(row, 32, "revision")?,
        id,
    })
}

/// Decodes a row of [`STEP_COLUMNS`].
pub(crate) fn read_step(row: &Row<'_>) -> Result<StepRecord, StoreError> {
    let task_id: String = get(row, 1, "step task_id")?;
    let kind: String = get(row, 4, "step kind")?;
    let level: String = get(row, 5, "step level")?;
    Ok(StepRecord {
        id: StepId::from_stored(get(row, 0, "step id")?),
        task_id: TaskId::new(task_id).map_err(|e| corrupt(format_args!("step task id: {e}")))?,
        seq: get_u64(row, 2, "step seq")?,
        attempt: get(row, 3, "step attempt")?,
        kind: StepKind::parse(&kind),
        level: StepLevel::parse(&level),
        message: get(row, 6, "step message")?,
        meta: get_opt_json(row, 7, "step meta")?,
        percent: get(row, 8, "step percent")?,
        created_at: get_ts(row, 9, "step created_at")?,
    })
}

fn get<T: rusqlite::types::FromSql>(
    row: &Row<'_>,
    index: usize,
    column: &str,
) -> Result<T, StoreError> {
    row.get(index).map_err(|e| corrupt(format_args!("column {column}: {e}")))
}

fn get_u64(row: &Row<'_>, index: usize, column: &str) -> Result<u64, StoreError> {
    let value: i64 = get(row, index, column)?;
    u64::try_from(value).map_err(|_| corrupt(format_args!("column {column} holds {value}")))
}

fn get_ts(row: &Row<'_>, index: usize, column: &str) -> Result<Timestamp, StoreError> {
    get::<i64>(row, index, column).map(Timestamp::from_millis)
}

fn get_opt_ts(row: &Row<'_>, index: usize, column: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(get::<Option<i64>>(row, index, column)?.map(Timestamp::from_millis))
}

fn get_json<T: DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
    column: &str,
) -> Result<T, StoreError> {
    get_opt_json(row, index, column)?
        .ok_or_else(|| corrupt(format_args!("column {column}: NULL where a document belongs")))
}

/// Decodes a JSON column straight from SQLite's buffer, without copying the text into a
/// `String` first.
fn get_opt_json<T: DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
    column: &str,
) -> Result<Option<T>, StoreError> {
    let bytes =
        match row.get_ref(index).map_err(|e| corrupt(format_args!("column {column}: {e}")))? {
            ValueRef::Null => return Ok(None),
            ValueRef::Text(bytes) => bytes,
            other => {
                return Err(corrupt(format_args!(
                    "column {column} holds {:?}, not text",
                    other.data_type()
                )));
            }
        };
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| corrupt(format_args!("column {column}: {e}")))
}
