//! The change feed: one row of `tasks_changes` per task insert, update, step append or
//! deletion, written in the same transaction as the change itself.
//!
//! SQLite admits one writer at a time, and the id (the rowid, one more than the largest) is
//! assigned inside the writing transaction, so ids grow in commit order (a rolled-back id is
//! handed out again, and was never seen by a reader): the id is the cursor, as decimal text.
//! Pruning always keeps the newest entry, so an id is never reused once committed; this gives
//! what `AUTOINCREMENT` would without its extra page write per transaction. The row
//! `changes_pruned_through` of `tasks_meta` is the highest id pruned; a cursor below it is
//! refused as expired, as is one beyond the last id given (it came from another database).

use rusqlite::{Connection, OptionalExtension};
use tasks_core::{Change, ChangeCursor, ChangeKind, ChangePage, StoreError, TaskId};

use crate::error::{corrupt, sql};
use crate::row::int;
use crate::tx::WriteTx;

/// Logs that task `id` reached `revision` (or was deleted at it).
pub(crate) fn log(
    tx: &WriteTx<'_>,
    id: &TaskId,
    revision: u64,
    kind: ChangeKind,
) -> Result<(), StoreError> {
    let kind = match kind {
        ChangeKind::Updated => "updated",
        ChangeKind::Deleted => "deleted",
    };
    tx.prepare_cached("INSERT INTO tasks_changes (task_id, revision, kind) VALUES (?1, ?2, ?3)")
        .map_err(sql)?
        .execute(rusqlite::params![id.as_str(), int(revision)?, kind])
        .map_err(sql)?;
    Ok(())
}

/// Deletes all but the latest `keep` changes (`keep` is at least 1: the newest entry stays, so
/// its id is never handed out again). Returns how many were deleted.
pub(crate) fn prune(tx: &WriteTx<'_>, keep: u64) -> Result<u64, StoreError> {
    let through = last_id(tx)?.saturating_sub(int(keep)?);
    if through <= pruned_through(tx)? {
        return Ok(0);
    }
    let deleted = tx
        .prepare_cached("DELETE FROM tasks_changes WHERE id <= ?1")
        .map_err(sql)?
        .execute([through])
        .map_err(sql)?;
    tx.prepare_cached("UPDATE tasks_meta SET value = ?1 WHERE key = 'changes_pruned_through'")
        .map_err(sql)?
        .execute([through])
        .map_err(sql)?;
    Ok(deleted as u64)
}

/// The last id given (0 before the first change).
fn last_id(conn: &Connection) -> Result<i64, StoreError> {
    let last: Option<i64> = conn
        .prepare_cached("SELECT max(id) FROM tasks_changes")
        .map_err(sql)?
        .query_row([], |row| row.get(0))
        .map_err(sql)?;
    match last {
        Some(last) => Ok(last),
        None => pruned_through(conn),
    }
}

fn pruned_through(conn: &Connection) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT value FROM tasks_meta WHERE key = 'changes_pruned_through'")
        .map_err(sql)?
        .query_row([], |row| row.get(0))
        .optional()
        .map_err(sql)
        .map(Option::unwrap_or_default)
}

/// The cursor at the current end of the feed.
pub(crate) fn cursor(conn: &Connection) -> Result<ChangeCursor, StoreError> {
    Ok(ChangeCursor::new(last_id(conn)?.to_string()))
}

/// Reads up to `limit` changes after `after` (after everything pruned when `None`). Call inside
/// one read transaction so the bounds and the rows agree.
pub(crate) fn read(
    conn: &Connection,
    after: Option<&ChangeCursor>,
    limit: u32,
) -> Result<ChangePage, StoreError> {
    let floor = pruned_through(conn)?;
    let start = match after {
        None => floor,
        Some(cursor) => {
            let expired = || StoreError::CursorExpired { cursor: cursor.to_string() };
            let position: i64 = cursor.as_str().parse().map_err(|_| expired())?;
            if position < floor || position > last_id(conn)? {
                return Err(expired());
            }
            position
        }
    };
    // The limit is a literal: see the module docs of `row`.
    let sql_text = format!(
        "SELECT id, task_id, revision, kind FROM tasks_changes WHERE id > ?1 \
         ORDER BY id LIMIT {limit}"
    );
    let mut statement = conn.prepare_cached(&sql_text).map_err(sql)?;
    let mut rows = statement.query([start]).map_err(sql)?;
    let mut changes = Vec::new();
    while let Some(row) = rows.next().map_err(sql)? {
        let id: i64 = row.get(0).map_err(sql)?;
        let task_id: String = row.get(1).map_err(sql)?;
        let revision: i64 = row.get(2).map_err(sql)?;
        let kind: String = row.get(3).map_err(sql)?;
        changes.push(Change {
            cursor: ChangeCursor::new(id.to_string()),
            task_id: TaskId::new(task_id).map_err(|e| corrupt(format_args!("change: {e}")))?,
            revision: u64::try_from(revision)
                .map_err(|_| corrupt(format_args!("change revision {revision}")))?,
            kind: match kind.as_str() {
                "deleted" => ChangeKind::Deleted,
                "updated" => ChangeKind::Updated,
                other => return Err(corrupt(format_args!("change kind {other:?}"))),
            },
        });
    }
    let next = changes
        .last()
        .map_or_else(|| ChangeCursor::new(start.to_string()), |change| change.cursor.clone());
    Ok(ChangePage { changes, next })
}
