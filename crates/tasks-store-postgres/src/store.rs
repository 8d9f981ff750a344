//! [`PostgresTaskStore`]: the pools, the retry loop every operation runs in, and connecting.
//! The `TaskStore` methods themselves live in the modules named after what they do.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use r2d2::Pool;
use tasks_core::StoreError;

use crate::error::{
    Endpoint, PostgresError, is_connection_error, is_transient, pool_error, store_error,
};
use crate::fast::FastSql;
use crate::notify::Notifier;
use crate::options::PostgresStoreOptions;
use crate::pool::{Conn, Manager, OpError};
use crate::schema::{CheckError, check_version};
use crate::session::{ConnectError, Session, async_config};
use crate::sql::Sql;

/// Most attempts of one operation after races the database resolved against it.
const MAX_RACE_ATTEMPTS: u32 = 20;

/// The PostgreSQL task store: many processes on many machines share one database, and every
/// invariant (dedupe, concurrency keys, limits, leases) is held by the database.
///
/// Cheap to clone (the pools are shared). Blocking: call it from threads that may block, never
/// from a tokio worker (see the crate docs).
#[derive(Clone)]
pub struct PostgresTaskStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) options: PostgresStoreOptions,
    pub(crate) sql: Sql,
    pub(crate) endpoint: Endpoint,
    /// Sessions that commit durably: enqueue, claim, finish, cancel, maintenance.
    pool: Pool<Manager>,
    /// Sessions with `synchronous_commit = off`: heartbeats, progress, steps.
    relaxed: Pool<Manager>,
    pub(crate) notifier: Notifier,
    /// The one-statement worker writes.
    pub(crate) fast: FastSql,
}

impl std::fmt::Debug for PostgresTaskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresTaskStore")
            .field("endpoint", &self.inner.endpoint)
            .field("schema", &self.inner.options.schema)
            .field("table_prefix", &self.inner.options.table_prefix)
            .finish_non_exhaustive()
    }
}

/// Which pool an operation uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Durable commits.
    Full,
    /// `synchronous_commit = off`: only for heartbeats, progress and steps.
    Relaxed,
}

impl PostgresTaskStore {
    /// Connects to the store described by `options`, whose schema must have been prepared
    /// with [`prepare_schema`](crate::prepare_schema) (at this code's version).
    ///
    /// One connection is made at once to check the server and the schema; the pools then
    /// grow on demand.
    ///
    /// # Errors
    ///
    /// [`PostgresError::InvalidIdentifier`] for a bad schema or prefix,
    /// [`PostgresError::Unreachable`] (naming host and port, never the password) when the
    /// server cannot be reached, [`PostgresError::Schema`] when the tables are missing or at
    /// another version.
    pub fn connect(options: PostgresStoreOptions) -> Result<Self, PostgresError> {
        let names = options.names()?;
        let endpoint = options.endpoint();
        let password = options.password();
        // A session like the pools' own: on a stalled network this check fails within the
        // response timeout instead of hanging.
        let mut client = Session::connect(&async_config(&options.config), options.response_timeout)
            .map_err(|err| connect_error(&endpoint, err, password))?;
        let checked = check_version(&mut client, &names);
        drop(client);
        checked.map_err(|err| match err {
            CheckError::Driver(err) => PostgresError::from_driver(&endpoint, err, password),
            CheckError::Schema(message) => PostgresError::Schema { message },
        })?;
        let pool = build_pool(&options, options.pool.max_size, false);
        let relaxed = build_pool(&options, options.pool.relaxed_max_size, true);
        let sql = Sql::new(names);
        let fast = FastSql::new(&sql.names.tasks, &sql.names.steps, &crate::row::task_columns(""));
        let notifier = Notifier::new(
            pool.clone(),
            sql.notify.clone(),
            sql.names.channel.clone(),
            sql.names.schema.clone(),
            options.notify_interval,
        );
        Ok(PostgresTaskStore {
            inner: Arc::new(Inner { options, sql, endpoint, pool, relaxed, notifier, fast }),
        })
    }

    /// Prepares the schema (see [`prepare_schema`](crate::prepare_schema)), then connects.
    ///
    /// # Errors
    ///
    /// As [`prepare_schema`](crate::prepare_schema) and [`PostgresTaskStore::connect`].
    pub fn prepare_and_connect(options: PostgresStoreOptions) -> Result<Self, PostgresError> {
        crate::schema::prepare_schema(&options)?;
        PostgresTaskStore::connect(options)
    }

    /// The options the store was connected with.
    pub fn options(&self) -> &PostgresStoreOptions {
        &self.inner.options
    }

    /// Runs `op` on a pooled session, repeating it while the failure allows (see the `pool`
    /// module: connection failures before anything could commit, serialization failures,
    /// deadlocks, races resolved against it).
    pub(crate) fn run<T>(
        &self,
        durability: Durability,
        mut op: impl FnMut(&mut Conn) -> Result<T, OpError>,
    ) -> Result<T, StoreError> {
        let inner = &self.inner;
        let pool = match durability {
            Durability::Full => &inner.pool,
            Durability::Relaxed => &inner.relaxed,
        };
        // After a server restart every pooled session is dead; allow one attempt per session
        // plus a few, so a call succeeds as soon as the server is back.
        let connection_attempts = pool.max_size() + 2;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut conn = pool.get().map_err(|err| pool_error(&inner.endpoint, err))?;
            let err = match op(&mut conn) {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            let timed_out = conn.client.timed_out().then(|| conn.client.timeout()).flatten();
            drop(conn);
            if let Some(timeout) = timed_out
                && let OpError::Driver { err, .. } = err
            {
                // The server did not answer in time: the network or the server is stuck, and
                // another try would wait as long again. Whether a write committed is unknown.
                return Err(StoreError::unavailable(
                    format!(
                        "PostgreSQL at {} did not answer within {} ms; the session was dropped",
                        inner.endpoint,
                        timeout.as_millis()
                    ),
                    err,
                ));
            }
            match err {
                OpError::Store(err) => return Err(err),
                OpError::Retry if attempt < MAX_RACE_ATTEMPTS => backoff(attempt),
                OpError::Retry => {
                    return Err(StoreError::Backend {
                        message: format!(
                            "gave up after {attempt} attempts lost to concurrent writers"
                        ),
                        source: None,
                    });
                }
                OpError::Driver { err, outcome_unknown } => {
                    let retry = if is_transient(&err) {
                        attempt < MAX_RACE_ATTEMPTS
                    } else {
                        is_connection_error(&err)
                            && !outcome_unknown
                            && attempt < connection_attempts
                    };
                    if !retry {
                        return Err(store_error(&inner.endpoint, err));
                    }
                    if is_transient(&err) {
                        backoff(attempt);
                    }
                }
            }
        }
    }

    /// Asks listeners in every process to look for work (coalesced; see [`Notifier`]).
    pub(crate) fn wake(&self) {
        self.inner.notifier.wake();
    }
}

/// Why the first session of [`PostgresTaskStore::connect`] (or a listener's) could not be
/// opened.
pub(crate) fn connect_error(
    endpoint: &Endpoint,
    err: ConnectError,
    password: Option<&[u8]>,
) -> PostgresError {
    match err {
        ConnectError::Driver(err) => PostgresError::unreachable(endpoint, err, password),
        other => PostgresError::Unreachable {
            host: endpoint.host.clone(),
            port: endpoint.port,
            message: other.to_string(),
            source: None,
        },
    }
}

/// A short, growing pause before repeating an attempt that lost a race.
fn backoff(attempt: u32) {
    let millis = u64::from(attempt.min(10)) * 2;
    thread::sleep(Duration::from_millis(millis));
}

fn build_pool(options: &PostgresStoreOptions, max_size: u32, relaxed: bool) -> Pool<Manager> {
    let settings = &options.pool;
    let manager =
        Manager::new(&options.config, options.session_setup(relaxed), options.response_timeout);
    Pool::builder()
        .max_size(max_size.max(1))
        .min_idle(settings.min_idle.map(|idle| idle.min(max_size)))
        .connection_timeout(settings.connection_timeout)
        .idle_timeout(settings.idle_timeout)
        .max_lifetime(settings.max_lifetime)
        // A checkout test costs a round trip per call; a dead session is noticed on use instead
        // and the call repeated (see `run`).
        .test_on_check_out(false)
        .build_unchecked(manager)
}
