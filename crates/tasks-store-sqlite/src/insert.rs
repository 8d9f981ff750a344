//! Inserting new tasks and change-feed entries, many rows per statement.
//!
//! A bulk enqueue spends most of its time in per-statement work (binding, opening a cursor on
//! the table and each index, halting), so rows go in multi-row `INSERT`s of up to 64 rows.
//!
//! Multi-row writes say `OR ROLLBACK`: a constraint failure then ends the whole transaction at
//! once, which is what any error inside a write transaction of this store does anyway (the
//! error is returned and the transaction rolled back), and SQLite need not keep a statement
//! journal (a copy of every page the statement changes, to undo it alone); the journal was a
//! twentieth of a busy host's instructions. `update` writes the same way. The statement texts come in a few fixed sizes (64, 32, 16 … 1 rows) so they stay in
//! the prepared-statement cache.

use std::sync::OnceLock;

use rusqlite::params;
use rusqlite::types::ToSql;
use tasks_core::{StoreError, TaskRecord, TaskStatus};

use crate::error::sql;
use crate::row::{int, json, opt_json};
use crate::tx::WriteTx;

/// The row counts a statement is prepared for, largest first. The largest, 64 rows of 13
/// parameters, binds 832, far below SQLite's limit of 32,766.
const SIZES: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

/// The columns a new task sets. Everything else a new task holds is fixed (status `queued`,
/// attempt 0, no step, revision 1: literals in the row text) or absent (NULL, the default).
const TASK_INSERT_COLUMNS: &str = "id, kind, status, input, metadata, concurrency_key, \
    dedupe_key, supersede_key, channels, attempt, max_attempts, priority, scheduled_at, \
    created_at, updated_at, last_step_seq, revision";
/// One row of [`TASK_INSERT_COLUMNS`]: 13 parameters and the fixed values.
const TASK_INSERT_ROW: &str = "(?, ?, 'queued', ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, 0, 1)";
const TASK_PARAM_COUNT: usize = 13;

/// Splits `count` rows into statement sizes from [`SIZES`], largest first. The update of
/// changed records (`update`) splits its rows the same way, for the same reason.
pub(crate) fn sizes(mut count: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        let size = SIZES.into_iter().find(|size| *size <= count)?;
        count -= size;
        Some(size)
    })
}

/// The statement `head VALUES row, row, ...` for `rows` rows, built once per size.
fn statement_text(
    cache: &'static OnceLock<Vec<String>>,
    rows: usize,
    head: impl FnOnce() -> String,
    row: impl FnOnce() -> String,
) -> &'static str {
    let texts = cache.get_or_init(|| {
        let (head, row) = (head(), row());
        SIZES
            .iter()
            .map(|size| format!("{head} VALUES {}", vec![row.as_str(); *size].join(", ")))
            .collect()
    });
    let index = SIZES.iter().position(|size| *size == rows).unwrap_or(SIZES.len() - 1);
    &texts[index]
}

/// A new record with its columns encoded, ready to bind.
struct Encoded<'a> {
    record: &'a TaskRecord,
    id: &'a str,
    input: String,
    metadata: Option<String>,
    channels: String,
    /// scheduled, created, updated.
    times: [i64; 3],
}

impl<'a> Encoded<'a> {
    fn new(record: &'a TaskRecord) -> Result<Self, StoreError> {
        if !is_new(record) {
            return Err(StoreError::Backend {
                message: format!("task {} is not a newly created record", record.id),
                source: None,
            });
        }
        Ok(Encoded {
            record,
            id: record.id.as_str(),
            input: json(&record.input)?,
            metadata: opt_json(record.metadata.as_ref())?,
            channels: if record.channels.is_empty() {
                "[]".to_owned()
            } else {
                json(&record.channels)?
            },
            times: [
                record.scheduled_at.as_millis(),
                record.created_at.as_millis(),
                record.updated_at.as_millis(),
            ],
        })
    }

    /// Pushes the parameters of this row, in [`TASK_INSERT_ROW`] order.
    fn push<'s>(&'s self, out: &mut Vec<&'s dyn ToSql>) {
        let r = self.record;
        let row: [&'s dyn ToSql; TASK_PARAM_COUNT] = [
            &self.id,
            &r.kind,
            &self.input,
            &self.metadata,
            &r.concurrency_key,
            &r.dedupe_key,
            &r.supersede_key,
            &self.channels,
            &r.max_attempts,
            &r.priority,
            &self.times[0],
            &self.times[1],
            &self.times[2],
        ];
        out.extend(row);
    }
}

/// Whether `record` is as `NewTask::into_record` builds it: queued, never claimed, no step,
/// revision 1. Only such records are inserted, so the insert binds only what varies.
fn is_new(record: &TaskRecord) -> bool {
    let r = record;
    r.status == TaskStatus::Queued
        && (r.attempt, r.last_step_seq, r.revision) == (0, 0, 1)
        && r.output.is_none()
        && r.error.is_none()
        && r.progress_percent.is_none()
        && r.progress_label.is_none()
        && r.progress_meta.is_none()
        && r.claimed_at.is_none()
        && r.started_at.is_none()
        && r.finished_at.is_none()
        && r.cancel_requested_at.is_none()
        && r.lease_owner.is_none()
        && r.lease_token.is_none()
        && r.lease_expires_at.is_none()
        && r.last_heartbeat_at.is_none()
        && r.retry_scheduled_at.is_none()
        && r.stale_at.is_none()
        && r.stale_reason.is_none()
}

/// Inserts newly created records (with their channel rows), in order.
pub(crate) fn insert_records<'r>(
    tx: &WriteTx<'_>,
    records: impl ExactSizeIterator<Item = &'r TaskRecord>,
) -> Result<(), StoreError> {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    let mut encoded: Vec<Encoded<'r>> = records.map(Encoded::new).collect::<Result<_, _>>()?;
    // Rows go in id order. The order of inserts changes nothing a reader sees (the change log
    // keeps the enqueue order), but a batch's ids are ULIDs sharing a time prefix and the same
    // times, so in id order each index insert appends at the end of its B-tree instead of
    // splitting pages in the middle.
    encoded.sort_unstable_by(|a, b| a.id.cmp(b.id));
    let mut rest = encoded.as_slice();
    for size in sizes(encoded.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let text = statement_text(
            &TEXTS,
            size,
            || format!("INSERT OR ROLLBACK INTO tasks ({TASK_INSERT_COLUMNS})"),
            || TASK_INSERT_ROW.to_owned(),
        );
        let mut params: Vec<&dyn ToSql> = Vec::with_capacity(size * TASK_PARAM_COUNT);
        for row in chunk {
            row.push(&mut params);
        }
        tx.prepare_cached(text).map_err(sql)?.execute(params.as_slice()).map_err(sql)?;
    }
    for row in &encoded {
        if row.record.channels.is_empty() {
            continue;
        }
        let mut channel = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO tasks_channels (channel, task_id) VALUES (?1, ?2)",
            )
            .map_err(sql)?;
        for name in &row.record.channels {
            channel.execute(params![name, row.id]).map_err(sql)?;
        }
    }
    Ok(())
}

/// Logs an `updated` change for each record, in order.
pub(crate) fn log_updates<'r>(
    tx: &WriteTx<'_>,
    records: impl Iterator<Item = &'r TaskRecord>,
) -> Result<(), StoreError> {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    let entries: Vec<(&str, i64)> = records
        .map(|record| Ok((record.id.as_str(), int(record.revision)?)))
        .collect::<Result<_, StoreError>>()?;
    let mut rest = entries.as_slice();
    for size in sizes(entries.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let text = statement_text(
            &TEXTS,
            size,
            || "INSERT OR ROLLBACK INTO tasks_changes (task_id, revision, kind)".to_owned(),
            || "(?, ?, 'updated')".to_owned(),
        );
        let mut params: Vec<&dyn ToSql> = Vec::with_capacity(size * 2);
        for (id, revision) in chunk {
            params.push(id);
            params.push(revision);
        }
        tx.prepare_cached(text).map_err(sql)?.execute(params.as_slice()).map_err(sql)?;
    }
    Ok(())
}
