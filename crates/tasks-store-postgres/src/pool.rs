//! Connections: the r2d2 manager that opens each [`Session`] (bounded by the response
//! timeout), sets it up and gives it a prepared-statement cache, the [`Db`] trait the store's SQL runs through (a
//! pooled connection, a transaction on one, or a caller's own `postgres::Transaction`), and
//! [`OpError`], which tells the retry loop whether an attempt may be repeated.
//!
//! Retry rule: an attempt is repeated on a fresh connection after a connection failure only
//! when nothing that could have committed was sent (the failure came before the `COMMIT` or
//! the single autocommit write); serialization failures and deadlocks are always repeated,
//! since the server reports them as rolled back.

use std::collections::HashMap;

use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Row, Statement};
use r2d2::ManageConnection;
use tasks_core::{InvalidInput, StoreError};

use crate::session::{ConnectError, Session, async_config};

/// A pooled session with its prepared statements.
pub(crate) struct Conn {
    /// Every request has a deadline (see [`Session`]).
    pub(crate) client: Session,
    statements: HashMap<String, Statement>,
    /// Set when the session may be in an unknown state (a failed rollback): the pool then
    /// discards it instead of handing it out again.
    poisoned: bool,
}

impl Conn {
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// Makes sessions for the pools: connects (the whole handshake bounded by the response
/// timeout), then runs the store's session setup (timeouts, durability).
pub(crate) struct Manager {
    config: tokio_postgres::Config,
    setup: String,
    response_timeout: Option<Duration>,
}

impl Manager {
    pub(crate) fn new(
        config: &postgres::Config,
        setup: String,
        response_timeout: Option<Duration>,
    ) -> Self {
        Manager { config: async_config(config), setup, response_timeout }
    }
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = ConnectError;

    fn connect(&self) -> Result<Conn, ConnectError> {
        let mut client = Session::connect(&self.config, self.response_timeout)?;
        if !self.setup.is_empty() {
            client.batch_execute(&self.setup)?;
        }
        Ok(Conn { client, statements: HashMap::new(), poisoned: false })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), ConnectError> {
        conn.client.simple_query("")?;
        Ok(())
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.poisoned || conn.client.is_closed()
    }
}

/// Something SQL runs on.
pub(crate) trait Db {
    /// Runs a statement and returns its rows.
    fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error>;
    /// Runs a statement and returns the number of rows it touched.
    fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error>;
}

impl Db for Conn {
    fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = self.statement(sql)?;
        self.client.query(&statement, params)
    }

    fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let statement = self.statement(sql)?;
        self.client.execute(&statement, params)
    }
}

/// A caller's own transaction (transactional enqueue): no statement cache, since the
/// connection is not ours.
impl Db for postgres::Transaction<'_> {
    fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        postgres::Transaction::query(self, sql, params)
    }

    fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        postgres::Transaction::execute(self, sql, params)
    }
}

/// Opens a transaction whose statements are planned for their actual parameters: a cached
/// generic plan of the claim and sweep queries (a `LIMIT` over an ordered index scan, with
/// optional filters) can sort the whole queue instead of reading the first rows of the index.
pub(crate) const BEGIN_CUSTOM_PLANS: &str = "BEGIN; SET LOCAL plan_cache_mode = force_custom_plan";

/// Opens a claim transaction: no sorting or bitmap scans, so the candidates are always read in
/// claim order from the head of the queue index. Statistics lag behind a queue that grew in
/// the last seconds; with them the planner may think the queue is a few rows and sort all of
/// it on every claim. With sorts ruled out, the ordered index scan is the one plan left, so
/// the claim statements use their cached generic plans: planning them again on every claim
/// cost about a fifth of a millisecond, more than running them. No JIT: a generic plan's
/// estimates of a `LIMIT $n` can cost a claim of a few rows past `jit_above_cost`, and compiling
/// it took hundreds of milliseconds.
pub(crate) const BEGIN_CLAIM: &str = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; \
     SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off; SET LOCAL jit = off";

/// A transaction on a pooled session, rolled back when dropped without [`Tx::commit`].
pub(crate) struct Tx<'c> {
    conn: &'c mut Conn,
    open: bool,
}

impl<'c> Tx<'c> {
    /// Starts a transaction (READ COMMITTED, the server's default).
    pub(crate) fn begin(conn: &'c mut Conn) -> Result<Self, postgres::Error> {
        Tx::begin_with(conn, "BEGIN")
    }

    /// Starts a transaction with `sql`, which must open it (`BEGIN; SET LOCAL ...`): one round
    /// trip for both.
    pub(crate) fn begin_with(conn: &'c mut Conn, sql: &str) -> Result<Self, postgres::Error> {
        conn.client.batch_execute(sql)?;
        Ok(Tx { conn, open: true })
    }

    /// Commits. A failure here leaves the outcome unknown: see [`OpError::unknown`].
    pub(crate) fn commit(mut self) -> Result<(), OpError> {
        self.open = false;
        self.conn.client.batch_execute("COMMIT").map_err(OpError::unknown)
    }
}

impl Db for Tx<'_> {
    fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        self.conn.query(sql, params)
    }

    fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        self.conn.execute(sql, params)
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open && self.conn.client.batch_execute("ROLLBACK").is_err() {
            self.conn.poisoned = true;
        }
    }
}

/// Why an attempt of a store operation failed.
#[derive(Debug)]
pub(crate) enum OpError {
    /// A driver error. `outcome_unknown`: a statement that may have committed was sent, so
    /// repeating the attempt could apply the write twice.
    Driver { err: postgres::Error, outcome_unknown: bool },
    /// A final answer (refusal, bad input, not found...).
    Store(StoreError),
    /// The database resolved a race against this attempt (a concurrency key taken by another
    /// claimer, a row changed since it was read): start over.
    Retry,
}

impl OpError {
    /// A failure of a statement that may have committed (a `COMMIT`, or an autocommit write).
    pub(crate) fn unknown(err: postgres::Error) -> Self {
        OpError::Driver { err, outcome_unknown: true }
    }
}

impl From<postgres::Error> for OpError {
    fn from(err: postgres::Error) -> Self {
        OpError::Driver { err, outcome_unknown: false }
    }
}

impl From<StoreError> for OpError {
    fn from(err: StoreError) -> Self {
        OpError::Store(err)
    }
}

impl From<InvalidInput> for OpError {
    fn from(err: InvalidInput) -> Self {
        OpError::Store(StoreError::InvalidInput(err))
    }
}
