//! The change feed: every insert and update of a task (steps included, since appending steps
//! updates the task) and every deletion by retention, readable from a cursor.
//!
//! # Rows and changes
//!
//! Each writing statement logs one row (see the `schema` module) listing the tasks it wrote
//! and their new revisions, in arrays; a row written before schema version 2 holds one task.
//! A change is one element of a row: `(xid, seq, ord)`, the row's transaction and sequence
//! number and the element's place in the row (from 1).
//!
//! # Why not a plain sequence number
//!
//! A `bigserial` is assigned when a row is written, not when its transaction commits: a
//! reader that reads `seq > cursor` passes over a row whose transaction wrote first but
//! committed after the read, and never sees it. Here each change row carries the id of the
//! transaction that wrote it (`xid8`, from `pg_current_xact_id()`, assigned in increasing
//! order) and a sequence number, and the feed is ordered by `(xid, seq, ord)`.
//!
//! A cursor is a position `(xid, seq, ord)` plus the transactions below it that were still
//! running when it was made (with how far each was read, normally not at all). A read returns,
//! in order, the committed changes after the position and the changes of those pending
//! transactions that have committed since. The read's own snapshot (taken by the same
//! statement) says which transactions below the new position are still running: they become
//! the new cursor's pending list. So a change is delivered exactly once, however late its
//! transaction commits. The pending list holds at most the transactions running at one
//! moment, so cursors stay short.
//!
//! A position at the end of a row is written `xid:seq`, one inside a row `xid:seq.ord` (a page
//! may end in the middle of a big row); pending transactions follow as `x.s` or `x.s.o`.
//!
//! [`TaskStore::change_cursor`](tasks_core::TaskStore::change_cursor) is built from a
//! snapshot: position just below its `xmax`, every transaction it saw running pending. So it
//! stands after every change committed before it and before every change after it.
//!
//! # Order
//!
//! `(xid, seq)` is the order in which transactions *started writing*, not strictly the order
//! they committed: changes to different tasks may come in either order (and those of one
//! statement in no particular order), and in a rare race (a transaction that began writing
//! earlier, then waited for a row another one changed) a task's later revision can come
//! before an earlier one. Every change comes exactly once, and `revision` says which state is
//! newer, so a reader that keeps the highest revision (as core's tracker does) converges on
//! the committed state.

use std::collections::BTreeMap;

use tasks_core::{Change, ChangeCursor, ChangeKind, ChangePage, StoreError, TaskId};

use crate::pool::Db;
use crate::store::{Durability, PostgresTaskStore};

/// Most changes one read returns.
const MAX_PAGE: u32 = 10_000;

/// The `ord` of a position after every change of its row.
const WHOLE_ROW: i64 = i64::MAX;

/// A point in the feed: after change `ord` of row `(xid, seq)` (after the whole row when
/// `ord` is [`WHOLE_ROW`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default)]
struct Point {
    xid: u64,
    seq: i64,
    ord: i64,
}

impl Point {
    /// Parses `xid:seq` or `xid:seq.ord` (`separator` `:`), or `x.s` or `x.s.o` (`.`).
    fn parse(text: &str, separator: char) -> Option<Self> {
        let mut parts = text.split(separator);
        let xid = parts.next()?.parse().ok()?;
        let rest = parts.next()?;
        let (seq, ord) = match separator {
            ':' => match rest.split_once('.') {
                Some((seq, ord)) => (seq, Some(ord)),
                None => (rest, None),
            },
            _ => (rest, parts.next()),
        };
        if parts.next().is_some() {
            return None;
        }
        let ord = match ord {
            None => WHOLE_ROW,
            Some(ord) => ord.parse().ok().filter(|ord| (1..WHOLE_ROW).contains(ord))?,
        };
        Some(Point { xid, seq: seq.parse().ok()?, ord })
    }

    fn write(&self, separator: char) -> String {
        match self.ord {
            WHOLE_ROW => format!("{}{separator}{}", self.xid, self.seq),
            ord => format!("{}{separator}{}.{ord}", self.xid, self.seq),
        }
    }
}

/// A feed position: after `at`, except for the changes of the `pending` transactions after
/// the point noted for each.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
struct Position {
    at: Point,
    pending: BTreeMap<u64, Point>,
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
    /// Parses `xid:seq[.ord]` or `xid:seq[.ord]:x.s[.o],x.s[.o],...`.
    fn parse(cursor: &ChangeCursor) -> Option<Self> {
        let text = cursor.as_str();
        let (at, pending_list) = match text.match_indices(':').nth(1) {
            Some((split, _)) => (&text[..split], Some(&text[split + 1..])),
            None => (text, None),
        };
        let at = Point::parse(at, ':')?;
        let mut pending = BTreeMap::new();
        if let Some(list) = pending_list {
            for entry in list.split(',').filter(|entry| !entry.is_empty()) {
                let point = Point::parse(entry, '.')?;
                pending.insert(point.xid, point);
            }
        }
        Some(Position { at, pending })
    }

    fn cursor(&self) -> ChangeCursor {
        let at = self.at.write(':');
        if self.pending.is_empty() {
            return ChangeCursor::new(at);
        }
        let pending: Vec<String> = self.pending.values().map(|point| point.write('.')).collect();
        ChangeCursor::new(format!("{at}:{}", pending.join(",")))
    }

    /// Records change `ord` of row `(xid, seq)`, a row of `len` changes, as delivered.
    fn deliver(&mut self, xid: u64, seq: i64, ord: i64, len: i64) {
        let ord = if ord >= len { WHOLE_ROW } else { ord };
        let point = Point { xid, seq, ord };
        match self.pending.get_mut(&xid) {
            Some(read) => *read = (*read).max(point),
            None => self.at = self.at.max(point),
        }
    }

    /// Makes every transaction the snapshot saw running below the position pending.
    fn hold_running(&mut self, snapshot: &Snapshot) {
        for &running in &snapshot.running {
            if running < self.at.xid {
                self.pending.entry(running).or_insert(Point {
                    xid: running,
                    seq: 0,
                    ord: WHOLE_ROW,
                });
            }
        }
    }

    /// The oldest point this position may still need changes after.
    fn oldest(&self) -> Point {
        let first = self.pending.values().next().copied();
        first.map_or(self.at, |pending| pending.min(self.at))
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
        // A row's changes: its arrays, or its one task (a row from before schema version 2).
        let elements = "CROSS JOIN LATERAL (SELECT coalesce(c.task_ids, ARRAY[c.task_id]) AS ids, \
                 coalesce(c.revisions, ARRAY[c.revision]) AS revisions) AS a \
             CROSS JOIN LATERAL unnest(a.ids, a.revisions) WITH ORDINALITY AS e(task_id, revision, ord)";
        let columns = "c.xid, c.seq, e.ord, cardinality(a.ids)::int8 AS len, e.task_id, e.revision, c.deleted";
        // One statement: the pruning mark, the rows and the snapshot that decides which
        // transactions are still running all come from the same snapshot. Each row holds at
        // least one change, so `$5 + 1` rows from the position's own row give `$5` changes.
        let text = format!(
            "SELECT pg_current_snapshot()::text, s.pruned_xid::text, s.pruned_seq, \
                    r.xid::text, r.seq, r.ord, r.len, r.task_id, r.revision, r.deleted \
             FROM {state} AS s LEFT JOIN LATERAL ( \
                 (SELECT {columns} FROM \
                     (SELECT * FROM {changes} AS c WHERE (c.xid, c.seq) >= ($1::text::xid8, $2::int8) \
                      ORDER BY c.xid, c.seq LIMIT $5::int8 + 1) AS c {elements} \
                  WHERE (c.xid, c.seq, e.ord) > ($1::text::xid8, $2::int8, $6::int8) \
                  ORDER BY c.xid, c.seq, e.ord LIMIT $5::int8) \
                 UNION ALL \
                 (SELECT {columns} FROM unnest($3::text[]::xid8[], $4::int8[], $7::int8[]) AS p(xid, seq, ord) \
                  CROSS JOIN LATERAL (SELECT * FROM {changes} AS c \
                      WHERE c.xid = p.xid AND c.seq >= p.seq ORDER BY c.seq LIMIT $5::int8 + 1) AS c {elements} \
                  WHERE (c.seq, e.ord) > (p.seq, p.ord)) \
                 ORDER BY xid, seq, ord LIMIT $5::int8) AS r ON true \
             WHERE s.id = 1",
            state = names.change_state,
            changes = names.changes,
        );
        let pending_xids: Vec<String> = from.pending.keys().map(u64::to_string).collect();
        let pending_seqs: Vec<i64> = from.pending.values().map(|point| point.seq).collect();
        let pending_ords: Vec<i64> = from.pending.values().map(|point| point.ord).collect();
        let limit = i64::from(limit.min(MAX_PAGE));
        let at = from.at;
        let rows = self.run(Durability::Full, |conn| {
            Ok(conn.query(
                &text,
                &[
                    &at.xid.to_string(),
                    &at.seq,
                    &pending_xids,
                    &pending_seqs,
                    &limit,
                    &at.ord,
                    &pending_ords,
                ],
            )?)
        })?;
        let corrupt = || crate::error::corrupt("change feed row");
        let number = |text: String| text.parse::<u64>().map_err(|_| corrupt());
        let Some(first) = rows.first() else { return Err(corrupt()) };
        let snapshot = Snapshot::parse(&first.get::<_, String>(0)).ok_or_else(corrupt)?;
        let pruned = Point { xid: number(first.get(1))?, seq: first.get(2), ord: WHOLE_ROW };
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
            position.deliver(xid, row.get(4), row.get(5), row.get(6));
            position.hold_running(&snapshot);
            // Changes come in (xid, seq, ord) order, so a pending transaction below this one
            // that is no longer running has had all its changes delivered by now.
            position
                .pending
                .retain(|pending, _| *pending >= xid || snapshot.running.contains(pending));
            let task_id: String = row.get(7);
            let revision: i64 = row.get(8);
            let deleted: bool = row.get(9);
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
            Some(below) => Position {
                at: Point { xid: below, seq: i64::MAX, ord: WHOLE_ROW },
                pending: BTreeMap::new(),
            },
            None => Position::default(),
        };
        for &running in &snapshot.running {
            position.pending.insert(running, Point { xid: running, seq: 0, ord: WHOLE_ROW });
        }
        Ok(position.cursor())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(xid: u64, seq: i64, ord: i64) -> Point {
        Point { xid, seq, ord }
    }

    #[test]
    fn cursors_round_trip() {
        let mut position = Position { at: point(42, 7, WHOLE_ROW), pending: BTreeMap::new() };
        assert_eq!(position.cursor().as_str(), "42:7");
        position.at.ord = 3;
        assert_eq!(position.cursor().as_str(), "42:7.3");
        position.pending.insert(40, point(40, 0, WHOLE_ROW));
        position.pending.insert(41, point(41, 3, 2));
        let cursor = position.cursor();
        assert_eq!(cursor.as_str(), "42:7.3:40.0,41.3.2");
        assert_eq!(Position::parse(&cursor), Some(position));
        // A cursor of the one-change-per-row feed reads as whole rows.
        let old = Position::parse(&ChangeCursor::new("42:7:40.0,41.3")).expect("old cursor");
        assert_eq!(
            (old.at, old.pending.get(&41)),
            (point(42, 7, WHOLE_ROW), Some(&point(41, 3, WHOLE_ROW)))
        );
        for bad in
            ["", "x:1", "1", "1:2:3", "1:2:3.4:5", "1:2.0", "1:2.x", "1:2:3.4.5.6", "1:2.3.4"]
        {
            assert_eq!(Position::parse(&ChangeCursor::new(bad)), None, "{bad}");
        }
    }

    #[test]
    fn delivering_a_pending_change_keeps_the_position() {
        let mut position = Position {
            at: point(50, 2, WHOLE_ROW),
            pending: BTreeMap::from([(45, point(45, 0, WHOLE_ROW))]),
        };
        position.deliver(45, 1, 1, 3);
        assert_eq!(position.at, point(50, 2, WHOLE_ROW));
        assert_eq!(position.pending.get(&45), Some(&point(45, 1, 1)));
        position.deliver(45, 1, 3, 3);
        assert_eq!(position.pending.get(&45), Some(&point(45, 1, WHOLE_ROW)), "the row is done");
        position.deliver(51, 1, 1, 2);
        assert_eq!(position.at, point(51, 1, 1));
        let snapshot = Snapshot::parse("44:60:47,49").expect("snapshot");
        position.hold_running(&snapshot);
        assert_eq!(position.pending.keys().copied().collect::<Vec<_>>(), vec![45, 47, 49]);
        assert_eq!(position.oldest(), point(45, 1, WHOLE_ROW));
    }

    #[test]
    fn a_position_inside_a_row_comes_before_the_rest_of_it() {
        assert!(point(7, 3, 2) < point(7, 3, WHOLE_ROW));
        assert!(point(7, 3, WHOLE_ROW) < point(7, 4, 1));
        // A cut at row (7, 3) leaves a position inside that row without its other changes.
        let pruned = point(7, 3, WHOLE_ROW);
        assert!(point(7, 3, 2) < pruned);
        assert!(point(7, 3, WHOLE_ROW) >= pruned);
    }
}
