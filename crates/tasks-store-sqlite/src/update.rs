//! Writing back changed records: only the columns a transition changed, and many records per
//! statement when they changed the same columns (all tasks of one claim).

use std::rc::Rc;

use rusqlite::types::Value;
use tasks_core::{LeaseToken, StoreError, TaskRecord, Timestamp};

use crate::error::sql;
use crate::row::{int, opt_json};
use crate::sql_text::TextMemo;
use crate::tx::WriteTx;
use crate::{insert, recent};

/// The mutable columns that differ from `old` to `new`, with their new values.
///
/// The set is also returned as a bit mask (bit `i` for the `i`-th column asked about below,
/// always asked in the same order), the key of the statement texts.
///
/// Core's transitions never touch a task's identity, input, metadata, keys, channels, priority
/// or creation time, so those are written once, at insert. (The attempt limit changes only in
/// an operator's `retry`, which raises it when the attempts are used up.) Of the rest, only
/// the columns whose value changed are set: SQLite then leaves alone every index that holds
/// none of them, so a progress write or a step append (which leave the status and the lease
/// as they are) rewrites the row and no index entry.
fn changed_columns(old: &TaskRecord, new: &TaskRecord) -> Result<ChangedColumns, StoreError> {
    let mut columns: Vec<&'static str> = Vec::with_capacity(24);
    let mut values: Vec<Value> = Vec::with_capacity(24);
    let (mut mask, mut position) = (0u32, 0u32);
    let mut set =
        |column: &'static str, changed: bool, value: &dyn Fn() -> Result<Value, StoreError>| {
            if changed {
                mask |= 1 << position;
                columns.push(column);
                values.push(value()?);
            }
            position += 1;
            Ok::<(), StoreError>(())
        };
    let text = |value: Option<&str>| value.map_or(Value::Null, |text| Value::Text(text.to_owned()));
    let time = |at: Option<Timestamp>| at.map_or(Value::Null, |at| Value::Integer(at.as_millis()));
    let doc = |value: Option<String>| value.map_or(Value::Null, Value::Text);
    set("status", old.status != new.status, &|| Ok(text(Some(new.status.as_str()))))?;
    set("output", old.output != new.output, &|| Ok(doc(opt_json(new.output.as_ref())?)))?;
    set("error", old.error != new.error, &|| Ok(doc(opt_json(new.error.as_ref())?)))?;
    set("progress_percent", old.progress_percent != new.progress_percent, &|| {
        Ok(new.progress_percent.map_or(Value::Null, Value::Real))
    })?;
    set("progress_label", old.progress_label != new.progress_label, &|| {
        Ok(text(new.progress_label.as_deref()))
    })?;
    set("progress_meta", old.progress_meta != new.progress_meta, &|| {
        Ok(doc(opt_json(new.progress_meta.as_ref())?))
    })?;
    set("attempt", old.attempt != new.attempt, &|| Ok(Value::Integer(i64::from(new.attempt))))?;
    set("max_attempts", old.max_attempts != new.max_attempts, &|| {
        Ok(Value::Integer(i64::from(new.max_attempts)))
    })?;
    set("scheduled_at", old.scheduled_at != new.scheduled_at, &|| {
        Ok(time(Some(new.scheduled_at)))
    })?;
    set("updated_at", old.updated_at != new.updated_at, &|| Ok(time(Some(new.updated_at))))?;
    set("claimed_at", old.claimed_at != new.claimed_at, &|| Ok(time(new.claimed_at)))?;
    set("started_at", old.started_at != new.started_at, &|| Ok(time(new.started_at)))?;
    set("finished_at", old.finished_at != new.finished_at, &|| Ok(time(new.finished_at)))?;
    set("cancel_requested_at", old.cancel_requested_at != new.cancel_requested_at, &|| {
        Ok(time(new.cancel_requested_at))
    })?;
    set("lease_owner", old.lease_owner != new.lease_owner, &|| {
        Ok(text(new.lease_owner.as_deref()))
    })?;
    set("lease_token", old.lease_token != new.lease_token, &|| {
        Ok(text(new.lease_token.as_ref().map(LeaseToken::as_str)))
    })?;
    set("lease_expires_at", old.lease_expires_at != new.lease_expires_at, &|| {
        Ok(time(new.lease_expires_at))
    })?;
    set("last_heartbeat_at", old.last_heartbeat_at != new.last_heartbeat_at, &|| {
        Ok(time(new.last_heartbeat_at))
    })?;
    set("retry_scheduled_at", old.retry_scheduled_at != new.retry_scheduled_at, &|| {
        Ok(time(new.retry_scheduled_at))
    })?;
    set("stale_at", old.stale_at != new.stale_at, &|| Ok(time(new.stale_at)))?;
    set("stale_reason", old.stale_reason != new.stale_reason, &|| {
        Ok(text(new.stale_reason.as_deref()))
    })?;
    set("last_step_seq", old.last_step_seq != new.last_step_seq, &|| {
        Ok(Value::Integer(int(new.last_step_seq)?))
    })?;
    set("revision", old.revision != new.revision, &|| Ok(Value::Integer(int(new.revision)?)))?;
    Ok(ChangedColumns { mask, columns, values })
}

/// What [`changed_columns`] found: the set of columns (as a mask and as names, in the same
/// order) and their new values.
struct ChangedColumns {
    mask: u32,
    columns: Vec<&'static str>,
    values: Vec<Value>,
}

/// A group of records that changed the same columns: the column set, and one row of
/// parameters (id, then the new values) per record.
struct Group {
    mask: u32,
    columns: Vec<&'static str>,
    rows: Vec<Vec<Value>>,
}

thread_local! {
    /// The update texts by (column mask, row count).
    static TEXTS: TextMemo<(u32, usize)> = TextMemo::new();
}

/// The statement updating `size` records that changed `columns` (whose mask is `mask`).
fn update_text(mask: u32, columns: &[&'static str], size: usize) -> Rc<str> {
    TEXTS.with(|memo| {
        memo.text(&(mask, size), || {
            if size == 1 {
                let assignments: Vec<String> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, column)| format!("{column} = ?{}", i + 2))
                    .collect();
                format!("UPDATE OR ROLLBACK tasks SET {} WHERE id = ?1", assignments.join(", "))
            } else {
                let row = format!("({})", vec!["?"; columns.len() + 1].join(", "));
                let assignments: Vec<String> =
                    columns.iter().map(|column| format!("{column} = v.{column}")).collect();
                format!(
                    "WITH v(id, {}) AS (VALUES {}) \
                     UPDATE OR ROLLBACK tasks SET {} FROM v WHERE tasks.id = v.id",
                    columns.join(", "),
                    vec![row.as_str(); size].join(", "),
                    assignments.join(", ")
                )
            }
        })
    })
}

/// Writes back the columns a transition changed, from `old` to `new`.
pub(crate) fn update_record(
    tx: &WriteTx<'_>,
    old: &TaskRecord,
    new: &TaskRecord,
) -> Result<(), StoreError> {
    update_records(tx, std::slice::from_ref(&(old, new)))
}

/// Writes back many records, each changed from its `old` to its `new`. Records that changed
/// the same columns (all tasks of one claim, say) go in one statement of up to 64 rows:
/// `WITH v(id, ...) AS (VALUES ...) UPDATE tasks SET ... FROM v WHERE tasks.id = v.id`.
///
/// The rows of a group are split into the fixed statement sizes of `insert` (64, 32 … 1 rows),
/// so every statement text recurs and stays in the prepared-statement cache. Preparing a
/// statement of 32 rows for every odd-sized batch (a host's claims and bursts come in every
/// size) was once a fifth of a busy host's CPU.
pub(crate) fn update_records(
    tx: &WriteTx<'_>,
    pairs: &[(&TaskRecord, &TaskRecord)],
) -> Result<(), StoreError> {
    for (_, new) in pairs {
        tx.note(recent::change_of(new));
    }
    let mut groups: Vec<Group> = Vec::new();
    for (old, new) in pairs {
        let ChangedColumns { mask, columns, values } = changed_columns(old, new)?;
        if mask == 0 {
            continue;
        }
        let mut row = Vec::with_capacity(values.len() + 1);
        row.push(Value::Text(new.id.as_str().to_owned()));
        row.extend(values);
        match groups.iter_mut().find(|group| group.mask == mask) {
            Some(group) => group.rows.push(row),
            None => groups.push(Group { mask, columns, rows: vec![row] }),
        }
    }
    for Group { mask, columns, rows } in groups {
        let mut rest = rows.as_slice();
        for size in insert::sizes(rows.len()) {
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let sql_text = update_text(mask, &columns, size);
            let updated = tx
                .prepare_cached(&sql_text)
                .map_err(sql)?
                .execute(rusqlite::params_from_iter(chunk.iter().flatten()))
                .map_err(sql)?;
            if updated != chunk.len() {
                return Err(StoreError::Backend {
                    message: "a task vanished inside its write transaction".to_owned(),
                    source: None,
                });
            }
        }
    }
    Ok(())
}
