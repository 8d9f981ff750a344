//! [`WriteTx`]: one write transaction on the writer connection, `BEGIN IMMEDIATE` to `COMMIT`.
//!
//! rusqlite's `Transaction` runs `BEGIN` and `COMMIT` through `execute_batch`, which parses the
//! SQL text at every call; on a one-task write (enqueue, claim or complete of one task) that
//! parsing was a twentieth of the CPU. Here both statements stay prepared in the statement
//! cache. Dropping a transaction that was not committed (an error, or a panic unwinding) rolls
//! it back, so the connection is always left outside a transaction.
//!
//! A transaction also carries the writer's memory of recent records (`recent`): the changes a
//! write makes to it wait in the transaction and are applied only when it commits.

use std::cell::RefCell;
use std::ops::Deref;

use rusqlite::Connection;
use tasks_core::{StoreError, TaskId, TaskRecord};

use crate::error::sql;
use crate::recent::{Change, RecentRecords};

/// An open write transaction; derefs to its connection for the statements inside it.
pub(crate) struct WriteTx<'c> {
    conn: &'c Connection,
    committed: bool,
    /// The writer's memory of recent records.
    recent: &'c RefCell<RecentRecords>,
    /// What this transaction changes in `recent` once it commits.
    changes: RefCell<Vec<Change>>,
}

impl<'c> WriteTx<'c> {
    /// Begins a `BEGIN IMMEDIATE` transaction: the write lock is taken now, so no statement
    /// inside it can meet another writer. The transaction uses and keeps up `recent`, the
    /// memory of the writer that owns `conn`.
    pub(crate) fn begin(
        conn: &'c Connection,
        recent: &'c RefCell<RecentRecords>,
    ) -> Result<Self, StoreError> {
        if !conn.is_autocommit() {
            // A transaction left open (its rollback failed): end it, or no write could begin.
            conn.execute_batch("ROLLBACK").map_err(sql)?;
        }
        conn.prepare_cached("BEGIN IMMEDIATE").map_err(sql)?.execute([]).map_err(sql)?;
        let tx = WriteTx { conn, committed: false, recent, changes: RefCell::new(Vec::new()) };
        // Read inside the transaction: the write lock is held, so no other connection can
        // commit between this read and this transaction's writes.
        let data_version: i64 = conn
            .prepare_cached("PRAGMA data_version")
            .map_err(sql)?
            .query_row([], |row| row.get(0))
            .map_err(sql)?;
        recent.borrow_mut().check(data_version);
        Ok(tx)
    }

    /// Takes the remembered record of `id` out of the memory of recent records, if any.
    pub(crate) fn take_remembered(&self, id: &TaskId) -> Option<TaskRecord> {
        self.recent.borrow_mut().take(id)
    }

    /// Notes a write to a task: the memory of recent records forgets the task at once (so
    /// nothing later in this transaction takes the record it had before), and `change` is made
    /// when the transaction commits.
    pub(crate) fn note(&self, change: Change) {
        self.recent.borrow_mut().forget(change.task_id());
        self.changes.borrow_mut().push(change);
    }

    /// Commits the transaction.
    pub(crate) fn commit(mut self) -> Result<(), StoreError> {
        self.conn.prepare_cached("COMMIT").map_err(sql)?.execute([]).map_err(sql)?;
        self.committed = true;
        self.recent.borrow_mut().apply(self.changes.take());
        Ok(())
    }
}

impl Deref for WriteTx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        // SQLite may already have rolled back on its own (some errors end the transaction);
        // only an open transaction is rolled back here. A failed rollback leaves nothing to
        // do: the next BEGIN reports the connection's state.
        if !self.committed && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use rusqlite::Connection;
    use serde_json::json;
    use tasks_core::{ClaimRequest, LeaseToken, NewTask, Timestamp, transition};

    use super::WriteTx;
    use crate::recent::{Change, RecentRecords};

    fn table() -> Connection {
        let conn = Connection::open_in_memory().expect("an in-memory database");
        conn.execute_batch("CREATE TABLE t (n INTEGER)").expect("a table");
        conn
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |row| row.get(0)).expect("count")
    }

    #[test]
    fn commit_keeps_and_drop_rolls_back() {
        let conn = table();
        let memory = RefCell::new(RecentRecords::default());
        let tx = WriteTx::begin(&conn, &memory).expect("begin");
        tx.execute("INSERT INTO t VALUES (1)", []).expect("insert");
        tx.commit().expect("commit");
        let tx = WriteTx::begin(&conn, &memory).expect("begin again: the cached BEGIN is reset");
        tx.execute("INSERT INTO t VALUES (2)", []).expect("insert");
        drop(tx);
        assert!(conn.is_autocommit(), "no transaction is left open");
        assert_eq!(count(&conn), 1, "the dropped transaction was rolled back");
    }

    #[test]
    fn a_panic_inside_rolls_back() {
        let conn = table();
        let memory = RefCell::new(RecentRecords::default());
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let tx = WriteTx::begin(&conn, &memory).expect("begin");
            tx.execute("INSERT INTO t VALUES (1)", []).expect("insert");
            panic!("a bug inside a write");
        }));
        assert!(unwound.is_err());
        assert!(conn.is_autocommit());
        assert_eq!(count(&conn), 0);
        WriteTx::begin(&conn, &memory).expect("the next write begins").commit().expect("commit");
    }

    #[test]
    fn a_transaction_left_open_is_ended_before_the_next() {
        let conn = table();
        let memory = RefCell::new(RecentRecords::default());
        conn.execute_batch("BEGIN; INSERT INTO t VALUES (1);").expect("an open transaction");
        let tx = WriteTx::begin(&conn, &memory).expect("begin ends the stray transaction first");
        tx.commit().expect("commit");
        assert_eq!(count(&conn), 0, "the stray transaction was rolled back, not committed");
    }

    fn claimed_record() -> tasks_core::TaskRecord {
        let now = Timestamp::from_millis(1_000);
        let queued = NewTask::new("work", json!(1)).into_record(now).expect("a valid task");
        let request = ClaimRequest::new("runner", 1, std::time::Duration::from_secs(60));
        transition::claim(&queued, &request.runner, LeaseToken::generate(), request.lease, now)
            .expect("claims")
    }

    #[test]
    fn the_memory_changes_only_when_the_transaction_commits() {
        let conn = table();
        let recent = RefCell::new(RecentRecords::default());
        let record = claimed_record();
        let tx = WriteTx::begin(&conn, &recent).expect("begin");
        tx.note(Change::Remember(Box::new(record.clone())));
        drop(tx);
        assert_eq!(recent.borrow().len(), 0, "a rolled-back write leaves nothing");
        let tx = WriteTx::begin(&conn, &recent).expect("begin");
        tx.note(Change::Remember(Box::new(record.clone())));
        assert_eq!(recent.borrow().len(), 0, "nothing before the commit");
        tx.commit().expect("commit");
        assert_eq!(recent.borrow().len(), 1, "remembered once committed");
        let tx = WriteTx::begin(&conn, &recent).expect("begin");
        tx.note(Change::Forget(record.id.clone()));
        tx.commit().expect("commit");
        assert_eq!(recent.borrow().len(), 0, "forgotten");
    }

    #[test]
    fn a_commit_by_another_connection_empties_the_memory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER)").expect("t");
        let other = Connection::open(&path).expect("open another");
        let recent = RefCell::new(RecentRecords::default());
        let tx = WriteTx::begin(&conn, &recent).expect("begin");
        tx.note(Change::Remember(Box::new(claimed_record())));
        tx.commit().expect("commit");
        WriteTx::begin(&conn, &recent).expect("begin").commit().expect("commit");
        assert_eq!(recent.borrow().len(), 1, "its own commits keep the memory");
        other.execute("INSERT INTO t VALUES (1)", []).expect("another connection writes");
        WriteTx::begin(&conn, &recent).expect("begin").commit().expect("commit");
        assert_eq!(recent.borrow().len(), 0, "another connection's commit empties it");
    }
}
