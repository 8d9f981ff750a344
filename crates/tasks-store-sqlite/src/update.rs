//! Writing back changed records: only the columns a transition changed, and many records per
//! statement when they changed the same columns (all tasks of one claim).

use std::rc::Rc;

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use tasks_core::{LeaseToken, StoreError, TaskRecord, Timestamp};

use crate::error::sql;
use crate::row::{int, opt_json};
use crate::sql_text::TextMemo;
use crate::tx::WriteTx;
use crate::{insert, recent};

/// The mutable columns, in the order their bits take in a column mask.
///
/// Core's transitions never touch a task's identity, input, metadata, keys, channels, priority
/// or creation time, so those are written once, at insert. (The attempt limit changes only in
/// an operator's `retry`, which raises it when the attempts are used up.)
const MUTABLE_COLUMNS: [&str; 23] = [
    "status",
    "output",
    "error",
    "progress_percent",
    "progress_label",
    "progress_meta",
    "attempt",
    "max_attempts",
    "scheduled_at",
    "updated_at",
    "claimed_at",
    "started_at",
    "finished_at",
    "cancel_requested_at",
    "lease_owner",
    "lease_token",
    "lease_expires_at",
    "last_heartbeat_at",
    "retry_scheduled_at",
    "stale_at",
    "stale_reason",
    "last_step_seq",
    "revision",
];

/// One record's statement parameters: its id, then the new values of the columns it changed.
/// Text is borrowed from the new record, not copied (SQLite copies what it binds anyway).
type Params<'a> = Vec<ToSqlOutput<'a>>;

/// How a changed column's new value is encoded, called only when the column changed (a JSON
/// document is serialized only then).
type Encode<'a, 'f> = dyn Fn() -> Result<ToSqlOutput<'a>, StoreError> + 'f;

/// Appends to `params` the new values of the mutable columns that differ from `old` to `new`,
/// in [`MUTABLE_COLUMNS`] order, and returns the set as a mask (bit `i` for column `i`), the
/// key of the statement texts.
///
/// Only the columns whose value changed are set: SQLite then leaves alone every index that
/// holds none of them, so a progress write or a step append (which leave the status and the
/// lease as they are) rewrites the row and no index entry.
fn push_changed<'a>(
    old: &TaskRecord,
    new: &'a TaskRecord,
    params: &mut Params<'a>,
) -> Result<u32, StoreError> {
    let text = |value: Option<&'a str>| {
        value.map_or(ToSqlOutput::Owned(Value::Null), |text| {
            ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes()))
        })
    };
    let time = |at: Option<Timestamp>| {
        ToSqlOutput::Owned(at.map_or(Value::Null, |at| Value::Integer(at.as_millis())))
    };
    let doc = |value: Option<String>| ToSqlOutput::Owned(value.map_or(Value::Null, Value::Text));
    let integer = |value: i64| ToSqlOutput::Owned(Value::Integer(value));
    let changes: [(bool, &Encode<'a, '_>); 23] = [
        (old.status != new.status, &|| Ok(text(Some(new.status.as_str())))),
        (old.output != new.output, &|| Ok(doc(opt_json(new.output.as_ref())?))),
        (old.error != new.error, &|| Ok(doc(opt_json(new.error.as_ref())?))),
        (old.progress_percent != new.progress_percent, &|| {
            Ok(ToSqlOutput::Owned(new.progress_percent.map_or(Value::Null, Value::Real)))
        }),
        (old.progress_label != new.progress_label, &|| Ok(text(new.progress_label.as_deref()))),
        (old.progress_meta != new.progress_meta, &|| {
            Ok(doc(opt_json(new.progress_meta.as_ref())?))
        }),
        (old.attempt != new.attempt, &|| Ok(integer(i64::from(new.attempt)))),
        (old.max_attempts != new.max_attempts, &|| Ok(integer(i64::from(new.max_attempts)))),
        (old.scheduled_at != new.scheduled_at, &|| Ok(time(Some(new.scheduled_at)))),
        (old.updated_at != new.updated_at, &|| Ok(time(Some(new.updated_at)))),
        (old.claimed_at != new.claimed_at, &|| Ok(time(new.claimed_at))),
        (old.started_at != new.started_at, &|| Ok(time(new.started_at))),
        (old.finished_at != new.finished_at, &|| Ok(time(new.finished_at))),
        (old.cancel_requested_at != new.cancel_requested_at, &|| Ok(time(new.cancel_requested_at))),
        (old.lease_owner != new.lease_owner, &|| Ok(text(new.lease_owner.as_deref()))),
        (old.lease_token != new.lease_token, &|| {
            Ok(text(new.lease_token.as_ref().map(LeaseToken::as_str)))
        }),
        (old.lease_expires_at != new.lease_expires_at, &|| Ok(time(new.lease_expires_at))),
        (old.last_heartbeat_at != new.last_heartbeat_at, &|| Ok(time(new.last_heartbeat_at))),
        (old.retry_scheduled_at != new.retry_scheduled_at, &|| Ok(time(new.retry_scheduled_at))),
        (old.stale_at != new.stale_at, &|| Ok(time(new.stale_at))),
        (old.stale_reason != new.stale_reason, &|| Ok(text(new.stale_reason.as_deref()))),
        (old.last_step_seq != new.last_step_seq, &|| Ok(integer(int(new.last_step_seq)?))),
        (old.revision != new.revision, &|| Ok(integer(int(new.revision)?))),
    ];
    let mut mask = 0u32;
    for (bit, (changed, value)) in changes.into_iter().enumerate() {
        if changed {
            mask |= 1 << bit;
            params.push(value()?);
        }
    }
    Ok(mask)
}

/// The names of the columns in `mask`, in [`MUTABLE_COLUMNS`] order.
fn columns_of(mask: u32) -> impl Iterator<Item = &'static str> {
    MUTABLE_COLUMNS
        .into_iter()
        .enumerate()
        .filter(move |(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, column)| column)
}

/// A group of records that changed the same columns (whose mask is `mask`): one row of
/// parameters per record.
struct Group<'a> {
    mask: u32,
    rows: Vec<Params<'a>>,
}

thread_local! {
    /// The update texts by (column mask, row count).
    static TEXTS: TextMemo<(u32, usize)> = TextMemo::new();
}

/// The statement updating `size` records that changed the columns of `mask`.
fn update_text(mask: u32, size: usize) -> Rc<str> {
    TEXTS.with(|memo| {
        memo.text(&(mask, size), || {
            let columns: Vec<&str> = columns_of(mask).collect();
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
    old: TaskRecord,
    new: &TaskRecord,
) -> Result<(), StoreError> {
    update_records(tx, vec![(old, new)])
}

/// Writes back many records, each changed from its `old` to its `new`. Records that changed
/// the same columns (all tasks of one claim, say) go in one statement of up to 64 rows:
/// `WITH v(id, ...) AS (VALUES ...) UPDATE tasks SET ... FROM v WHERE tasks.id = v.id`.
///
/// The rows of a group are split into the fixed statement sizes of `insert` (64, 32 … 1 rows),
/// so every statement text recurs and stays in the prepared-statement cache. Preparing a
/// statement of 32 rows for every odd-sized batch (a host's claims and bursts come in every
/// size) was once a fifth of a busy host's CPU.
///
/// The old records are given, not lent: each becomes the writer's memory of its task (see
/// `recent::change_after`), so a claimed task is remembered without copying its record.
pub(crate) fn update_records(
    tx: &WriteTx<'_>,
    pairs: Vec<(TaskRecord, &TaskRecord)>,
) -> Result<(), StoreError> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for (old, new) in pairs.iter().map(|(old, new)| (old, *new)) {
        let mut row: Params<'_> = Vec::with_capacity(MUTABLE_COLUMNS.len() + 1);
        row.push(ToSqlOutput::Borrowed(ValueRef::Text(new.id.as_str().as_bytes())));
        let mask = push_changed(old, new, &mut row)?;
        if mask == 0 {
            continue;
        }
        match groups.iter_mut().find(|group| group.mask == mask) {
            Some(group) => group.rows.push(row),
            None => groups.push(Group { mask, rows: vec![row] }),
        }
    }
    for (old, new) in pairs {
        tx.note(recent::change_after(old, new));
    }
    for Group { mask, rows } in groups {
        let mut rest = rows.as_slice();
        for size in insert::sizes(rows.len()) {
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let sql_text = update_text(mask, size);
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

/// A record for tests: `old` with every mutable column changed (and nothing else), spelled
/// field by field so that a field added to `TaskRecord` fails to compile here until it is
/// placed among the mutable columns or the fixed ones.
#[cfg(test)]
pub(crate) fn every_mutable_column_changed(old: &TaskRecord) -> TaskRecord {
    let later = |at: Option<Timestamp>| {
        Some(at.map_or(Timestamp::from_millis(7), |at| {
            at.saturating_add(std::time::Duration::from_millis(7))
        }))
    };
    let mut meta = serde_json::Map::new();
    meta.insert("page".to_owned(), serde_json::json!(3));
    TaskRecord {
        id: old.id.clone(),
        kind: old.kind.clone(),
        status: tasks_core::TaskStatus::Running,
        input: old.input.clone(),
        output: Some(serde_json::json!({"changed": true})),
        error: Some(tasks_core::TaskError::new("changed")),
        metadata: old.metadata.clone(),
        progress_percent: Some(42.0),
        progress_label: Some("changed".to_owned()),
        progress_meta: Some(meta),
        concurrency_key: old.concurrency_key.clone(),
        dedupe_key: old.dedupe_key.clone(),
        supersede_key: old.supersede_key.clone(),
        channels: old.channels.clone(),
        attempt: old.attempt + 1,
        max_attempts: old.max_attempts + 1,
        priority: old.priority,
        scheduled_at: old.scheduled_at.saturating_add(std::time::Duration::from_millis(7)),
        created_at: old.created_at,
        updated_at: old.updated_at.saturating_add(std::time::Duration::from_millis(7)),
        claimed_at: later(old.claimed_at),
        started_at: later(old.started_at),
        finished_at: later(old.finished_at),
        cancel_requested_at: later(old.cancel_requested_at),
        lease_owner: Some("another runner".to_owned()),
        lease_token: Some(LeaseToken::generate()),
        lease_expires_at: later(old.lease_expires_at),
        last_heartbeat_at: later(old.last_heartbeat_at),
        retry_scheduled_at: later(old.retry_scheduled_at),
        stale_at: later(old.stale_at),
        stale_reason: Some("changed".to_owned()),
        last_step_seq: old.last_step_seq + 1,
        revision: old.revision + 1,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tasks_core::{NewTask, Timestamp};

    use super::{MUTABLE_COLUMNS, every_mutable_column_changed, push_changed};

    #[test]
    fn every_mutable_column_is_compared_and_nothing_else() {
        let old = NewTask::new("work", json!({"n": 1}))
            .into_record(Timestamp::from_millis(1_000))
            .expect("a valid task");
        let new = every_mutable_column_changed(&old);
        let mut params = Vec::new();
        let mask = push_changed(&old, &new, &mut params).expect("encodes");
        assert_eq!(mask, (1 << MUTABLE_COLUMNS.len()) - 1, "every mutable column is written");
        assert_eq!(params.len(), MUTABLE_COLUMNS.len());
        let mut params = Vec::new();
        assert_eq!(push_changed(&old, &old, &mut params).expect("encodes"), 0);
        assert!(params.is_empty(), "an unchanged record writes nothing");
    }
}
