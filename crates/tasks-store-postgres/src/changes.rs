//! The change feed: every insert and update of a task (steps included, since appending steps
//! updates the task) and every deletion by retention, readable from a cursor.
//!
//! # Why not a plain sequence number
//!
//! A `bigserial` is assigned when a row is written, not when its transaction commits: a
//! reader that reads `seq > cursor` passes over a row whose transaction wrote first but
//! committed after the read, and never sees it. Here each change row carries the id of the
//! transaction that wrote it (`xid8`, from `pg_current_xact_id()`, assigned in increasing
//! order) and a sequence number, and the feed is ordered by `(xid, seq)`.
//!
//! A cursor is a position `(xid, seq)` plus the transactions below it that were still running
//! when it was made (with how far each was read, normally not at all). A read returns, in
//! `(xid, seq)` order, the committed rows after the position and the rows of those pending
//! transactions that have committed since. The read's own snapshot (taken by the same
//! statement) says which transactions below the new position are still running: they become
//! the new cursor's pending list. So a row is delivered exactly once, however late its
//! transaction commits. The pending list holds at most the transactions running at one
//! moment, so cursors stay short.
//!
//! [`TaskStore::change_cursor`](tasks_core::TaskStore::change_cursor) is built from a
//! snapshot: position just below its `xmax`, every transaction it saw running pending. So it
//! stands after every change committed before it and before every change after it.
//!
//! # Order
//!
//! `(xid, seq)` is the order in which transactions *started writing*, not strictly the order
//! they committed: changes to different tasks may come in either order, and in a rare race (a
//! transaction that began writing earlier, then waited for a row another one changed) a
//! task's later revision can come before an earlier one. Every change comes exactly once,
//! and `revision` says which state is newer, so a reader that keeps the highest revision (as
//! core's tracker does) converges on the committed state.

use std::collections::BTreeMap;

use tasks_core::{Change, ChangeCursor, ChangeKind, ChangePage, StoreError, TaskId};

use crate::pool::Db;
use crate::store::{Durability, PostgresTaskStore};

/// Most changes one read returns.
const MAX_PAGE: u32 = 10_000;

/// A feed position: after the row `(xid, seq)`, except for the rows of the `pending`
/// transactions after the `seq` noted for each.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
struct Position {
    xid: u64,
    seq: i64,
    pending: BTreeMap<u64, i64>,
}

/// A snapshot as `pg_current_snapshot()::text` gives it: `xmin:xmax:xip,xip,...`.
struct Snapshot {
    xmax: u64,
    running: Vec<u64>,
}

impl Snapshot {
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(':');
        let _xmin: u64 = parts.next()?.parse().ok()?;
        let xmax = parts.next()?.parse().ok()?;
        let running = match parts.next()? {
            "" => Vec::new(),
            list => list.split(',').map(str::parse).collect::<Result<_, _>>().ok()?,
        };
        Some(Snapshot { xmax, running })
    }
}

impl Position {
    /// Parses `xid:seq` or `xid:seq:xid.seq,xid.seq,...`.
    fn parse(cursor: &ChangeCursor) -> Option<Self> {
        let mut parts = cursor.as_str().split(':');
        let xid = parts.next()?.parse().ok()?;
        let seq = parts.next()?.parse().ok()?;
        let mut pending = BTreeMap::new();
        if let Some(list) = parts.next() {
            for entry in list.split(',').filter(|entry| !entry.is_empty()) {
                let (x, s) = entry.split_once('.')?;
                pending.insert(x.parse().ok()?, s.parse().ok()?);
            }
        }
        if parts.next().is_some() {
            return None;
        }
        Some(Position { xid, seq, pending })
    }

    fn cursor(&self) -> ChangeCursor {
        if self.pending.is_empty() {
            return ChangeCursor::new(format!("{}:{}", self.xid, self.seq));
        }
        let pending: Vec<String> = self.pending.iter().map(|(x, s)| format!("{x}.{s}")).collect();
        ChangeCursor::new(format!("{}:{}:{}", self.xid, self.seq, pending.join(",")))
    }

    /// Records row `(xid, seq)` as delivered.
    fn deliver(&mut self, xid: u64, seq: i64) {
        match self.pending.get_mut(&xid) {
            Some(read) => *read = (*read).max(seq),
            None => {
                if (xid, seq) > (self.xid, self.seq) {
                    self.xid = xid;
                    self.seq = seq;
                }
            }
        }
    }

    /// Makes every transaction the snapshot saw running below the position pending.
    fn hold_running(&mut self, snapshot: &Snapshot) {
        for &running in &snapshot.running {
            if running < self.xid {
                self.pending.entry(running).or_insert(0);
            }
        }
    }

    /// The oldest row this position may still need.
    fn oldest(&self) -> (u64, i64) {
        let first = self.pending.iter().next().map(|(x, s)| (*x, *s));
        first.map_or((self.xid, self.seq), |pending| pending.min((self.xid, self.seq)))
    }
}

impl PostgresTaskStore {
    pub(crate) fn read_feed(
        &self,
        after: Option<&ChangeCursor>,
        limit: u32,
    ) -> Result<ChangePage, StoreError> {
        let expired =
            |cursor: &ChangeCursor| StoreError::CursorExpired { cursor: cursor.to_string() };
        let from = match after {
            None => Position::default(),
            Some(cursor) => Position::parse(cursor).ok_or_else(|| expired(cursor))?,
        };
        let names = &self.inner.sql.names;
        let columns = "c.xid, c.seq, c.task_id, c.revision, c.deleted";
        // One statement: the pruning mark, the rows and the snapshot that decides which
        // transactions are still running all come from the same snapshot.
        let text = format!(
            "SELECT pg_current_snapshot()::text, s.pruned_xid::text, s.pruned_seq, \
                    r.xid::text, r.seq, r.task_id, r.revision, r.deleted \
             FROM {state} AS s LEFT JOIN LATERAL ( \
                 (SELECT {columns} FROM {changes} AS c \
                  WHERE (c.xid, c.seq) > ($1::text::xid8, $2::int8) ORDER BY c.xid, c.seq LIMIT $5) \
                 UNION ALL \
                 (SELECT {columns} FROM unnest($3::text[]::xid8[], $4::int8[]) AS p(xid, seq) \
                  CROSS JOIN LATERAL (SELECT {columns} FROM {changes} AS c \
                      WHERE c.xid = p.xid AND c.seq > p.seq ORDER BY c.seq LIMIT $5) AS c) \
                 ORDER BY xid, seq LIMIT $5) AS r ON true \
             WHERE s.id = 1",
            state = names.change_state,
            changes = names.changes,
        );
        let pending_xids: Vec<String> = from.pending.keys().map(u64::to_string).collect();
        let pending_seqs: Vec<i64> = from.pending.values().copied().collect();
        let limit = i64::from(limit.min(MAX_PAGE));
        let rows = self.run(Durability::Full, |conn| {
            Ok(conn.query(
                &text,
                &[&from.xid.to_string(), &from.seq, &pending_xids, &pending_seqs, &limit],
            )?)
        })?;
        let corrupt = || crate::error::corrupt("change feed row");
        let number = |text: String| text.parse::<u64>().map_err(|_| corrupt());
        let Some(first) = rows.first() else { return Err(corrupt()) };
        let snapshot = Snapshot::parse(&first.get::<_, String>(0)).ok_or_else(corrupt)?;
        let pruned = (number(first.get(1))?, first.get::<_, i64>(2));
        if let Some(cursor) = after
            && from.oldest() < pruned
        {
            return Err(expired(cursor));
        }
        let mut position = from.clone();
        let mut changes = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some(xid) = row.get::<_, Option<String>>(3) else { continue };
            let xid = number(xid)?;
            position.deliver(xid, row.get(4));
            position.hold_running(&snapshot);
            // Rows come in (xid, seq) order, so a pending transaction below this row that is
            // no longer running has had all its rows delivered by now.
            position
                .pending
                .retain(|pending, _| *pending >= xid || snapshot.running.contains(pending));
            let task_id: String = row.get(5);
            let revision: i64 = row.get(6);
            let deleted: bool = row.get(7);
            changes.push(Change {
                cursor: position.cursor(),
                task_id: TaskId::new(task_id).map_err(|_| corrupt())?,
                revision: u64::try_from(revision).unwrap_or(0),
                kind: if deleted { ChangeKind::Deleted } else { ChangeKind::Updated },
            });
        }
        // `next` is the last change's cursor, or the one given when nothing was read (it is
        // still exact: nothing new is settled below it).
        let next = match (changes.last(), after) {
            (Some(change), _) => change.cursor.clone(),
            (None, Some(cursor)) => cursor.clone(),
            (None, None) => position.cursor(),
        };
        Ok(ChangePage { changes, next })
    }

    pub(crate) fn feed_end(&self) -> Result<ChangeCursor, StoreError> {
        let text = "SELECT pg_current_snapshot()::text";
        let snapshot: String = self.run(Durability::Full, |conn| {
            let rows = conn.query(text, &[])?;
            Ok(rows.first().map(|row| row.get(0)).unwrap_or_default())
        })?;
        let snapshot =
            Snapshot::parse(&snapshot).ok_or_else(|| crate::error::corrupt("snapshot"))?;
        // Every transaction below xmax has finished except the running ones: stand just below
        // xmax, with the running ones pending.
        let mut position = match snapshot.xmax.checked_sub(1) {
            Some(below) => Position { xid: below, seq: i64::MAX, pending: BTreeMap::new() },
            None => Position::default(),
        };
        for &running in &snapshot.running {
            position.pending.insert(running, 0);
        }
        Ok(position.cursor())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let mut position = Position { xid: 42, seq: 7, pending: BTreeMap::new() };
        assert_eq!(position.cursor().as_str(), "42:7");
        position.pending.insert(40, 0);
        position.pending.insert(41, 3);
        let cursor = position.cursor();
        assert_eq!(cursor.as_str(), "42:7:40.0,41.3");
        assert_eq!(Position::parse(&cursor), Some(position));
        for bad in ["", "x:1", "1", "1:2:3", "1:2:3.4:5"] {
            assert_eq!(Position::parse(&ChangeCursor::new(bad)), None, "{bad}");
        }
    }

    #[test]
    fn delivering_a_pending_row_keeps_the_position() {
        let mut position = Position { xid: 50, seq: 2, pending: BTreeMap::from([(45, 0)]) };
        position.deliver(45, 1);
        assert_eq!((position.xid, position.seq, position.pending.get(&45)), (50, 2, Some(&1)));
        position.deliver(51, 1);
        assert_eq!((position.xid, position.seq), (51, 1));
        let snapshot = Snapshot::parse("44:60:47,49").expect("snapshot");
        position.hold_running(&snapshot);
        assert_eq!(position.pending.keys().copied().collect::<Vec<_>>(), vec![45, 47, 49]);
        assert_eq!(position.oldest(), (45, 1));
    }
}
