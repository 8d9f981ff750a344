//! [`WriteTx`]: one write transaction on the writer connection, `BEGIN IMMEDIATE` to `COMMIT`.
//!
//! rusqlite's `Transaction` runs `BEGIN` and `COMMIT` through `execute_batch`, which parses the
//! SQL text at every call; on a one-task write (enqueue, claim or complete of one task) that
//! parsing was a twentieth of the CPU. Here both statements stay prepared in the statement
//! cache. Dropping a transaction that was not committed (an error, or a panic unwinding) rolls
//! it back, so the connection is always left outside a transaction.

use std::ops::Deref;

use rusqlite::Connection;
use tasks_core::StoreError;

use crate::error::sql;

/// An open write transaction; derefs to its connection for the statements inside it.
pub(crate) struct WriteTx<'c> {
    conn: &'c Connection,
    committed: bool,
}

impl<'c> WriteTx<'c> {
    /// Begins a `BEGIN IMMEDIATE` transaction: the write lock is taken now, so no statement
    /// inside it can meet another writer.
    pub(crate) fn begin(conn: &'c Connection) -> Result<Self, StoreError> {
        if !conn.is_autocommit() {
            // A transaction left open (its rollback failed): end it, or no write could begin.
            conn.execute_batch("ROLLBACK").map_err(sql)?;
        }
        conn.prepare_cached("BEGIN IMMEDIATE").map_err(sql)?.execute([]).map_err(sql)?;
        Ok(WriteTx { conn, committed: false })
    }

    /// Commits the transaction.
    pub(crate) fn commit(mut self) -> Result<(), StoreError> {
        self.conn.prepare_cached("COMMIT").map_err(sql)?.execute([]).map_err(sql)?;
        self.committed = true;
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
    use rusqlite::Connection;

    use super::WriteTx;

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
        let tx = WriteTx::begin(&conn).expect("begin");
        tx.execute("INSERT INTO t VALUES (1)", []).expect("insert");
        tx.commit().expect("commit");
        let tx = WriteTx::begin(&conn).expect("begin again: the cached BEGIN is reset");
        tx.execute("INSERT INTO t VALUES (2)", []).expect("insert");
        drop(tx);
        assert!(conn.is_autocommit(), "no transaction is left open");
        assert_eq!(count(&conn), 1, "the dropped transaction was rolled back");
    }

    #[test]
    fn a_panic_inside_rolls_back() {
        let conn = table();
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let tx = WriteTx::begin(&conn).expect("begin");
            tx.execute("INSERT INTO t VALUES (1)", []).expect("insert");
            panic!("a bug inside a write");
        }));
        assert!(unwound.is_err());
        assert!(conn.is_autocommit());
        assert_eq!(count(&conn), 0);
        WriteTx::begin(&conn).expect("the next write begins").commit().expect("commit");
    }

    #[test]
    fn a_transaction_left_open_is_ended_before_the_next() {
        let conn = table();
        conn.execute_batch("BEGIN; INSERT INTO t VALUES (1);").expect("an open transaction");
        let tx = WriteTx::begin(&conn).expect("begin ends the stray transaction first");
        tx.commit().expect("commit");
        assert_eq!(count(&conn), 0, "the stray transaction was rolled back, not committed");
    }
}
