//! [`PostgresStoreOptions`]: where the store connects, which schema and table prefix it uses,
//! its pools ([`PoolOptions`]) and the timeouts set on each of its sessions.

use std::fmt;
use std::time::Duration;

use crate::error::{Endpoint, PostgresError};
use crate::ident::Names;

/// The connection pools' settings.
///
/// The store keeps two pools to the same server: the main one, whose sessions commit durably,
/// and a smaller one for heartbeats, progress and steps, whose sessions run with
/// `synchronous_commit = off` (a crash of the server may lose the last of those writes, never
/// an enqueue, claim or finish).
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct PoolOptions {
    /// Most connections of the main pool (default 10).
    pub max_size: u32,
    /// Most connections of the pool for heartbeats, progress and steps (default 4).
    pub relaxed_max_size: u32,
    /// Connections each pool keeps open while idle (default 1; `None` keeps `max_size`).
    pub min_idle: Option<u32>,
    /// How long a call waits for a connection before failing as unavailable (default 5 s).
    pub connection_timeout: Duration,
    /// Idle connections beyond `min_idle` are closed after this long (default 10 min).
    pub idle_timeout: Option<Duration>,
    /// Connections are replaced after this long (default 30 min).
    pub max_lifetime: Option<Duration>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_size: 10,
            relaxed_max_size: 4,
            min_idle: Some(1),
            connection_timeout: Duration::from_secs(5),
            idle_timeout: Some(Duration::from_secs(600)),
            max_lifetime: Some(Duration::from_secs(1800)),
        }
    }
}

/// How to reach PostgreSQL and how to lay out the store in it.
#[derive(Clone)]
#[non_exhaustive]
pub struct PostgresStoreOptions {
    /// The driver's connection settings (host, port, user, password, database...). Only
    /// unencrypted connections are supported (`sslmode=disable` or `prefer` falls back).
    pub config: postgres::Config,
    /// The schema holding the tables (default `public`); created by `prepare_schema`.
    pub schema: String,
    /// The prefix of every table, index and channel name (default `tasks_`).
    pub table_prefix: String,
    /// The pools.
    pub pool: PoolOptions,
    /// `statement_timeout` set on each session (default 30 s; `None` leaves the server's).
    pub statement_timeout: Option<Duration>,
    /// `idle_in_transaction_session_timeout` set on each session (default 60 s), so a stuck
    /// caller cannot hold back vacuum for long.
    pub idle_in_transaction_session_timeout: Option<Duration>,
    /// How long a call waits for the server to answer one request, and for a new session's
    /// whole handshake (default 40 s; `None` waits forever). Past it the session is dropped and
    /// the call fails as unavailable. The server's `statement_timeout` cannot end a wait on a
    /// stalled network (its answer never arrives), so this is what bounds every call then.
    /// Keep it above the statement timeout, so a slow statement is ended by the server first.
    pub response_timeout: Option<Duration>,
    /// A transaction held open in the store's database for longer than this is reported by
    /// `TaskStore::warnings` (a host passes it on as a `runner:warning` event): it keeps vacuum
    /// from removing dead task rows, and claims slow down. Default 60 s; `None` checks nothing.
    pub long_transaction_warning: Option<Duration>,
    /// The shortest gap between two wake-up notifications sent by this store (default 10 ms):
    /// wake-ups are coalesced, never one per write.
    pub notify_interval: Duration,
    /// How long the change feed keeps changes (default 24 h); older ones are removed by
    /// `compact`, and a cursor pointing before them has expired.
    pub change_retention: Duration,
}

impl PostgresStoreOptions {
    /// Options for a driver configuration, with every other setting at its default.
    pub fn new(mut config: postgres::Config) -> Self {
        if config.get_connect_timeout().is_none() {
            // An unroutable host would otherwise hang for the OS's TCP timeout.
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("tasks-store-postgres");
        }
        PostgresStoreOptions {
            config,
            schema: "public".to_owned(),
            table_prefix: "tasks_".to_owned(),
            pool: PoolOptions::default(),
            statement_timeout: Some(Duration::from_secs(30)),
            idle_in_transaction_session_timeout: Some(Duration::from_secs(60)),
            response_timeout: Some(Duration::from_secs(40)),
            long_transaction_warning: Some(Duration::from_secs(60)),
            notify_interval: Duration::from_millis(10),
            change_retention: Duration::from_secs(24 * 3600),
        }
    }

    /// Options for a connection URL (`postgres://user:password@host:port/db`) or a key-value
    /// string (`host=... user=...`).
    ///
    /// # Errors
    ///
    /// [`PostgresError::InvalidConfig`] when the text cannot be parsed (the message never
    /// repeats the text, which may hold a password).
    pub fn from_url(url: &str) -> Result<Self, PostgresError> {
        let config: postgres::Config =
            url.parse().map_err(|err: postgres::Error| PostgresError::InvalidConfig {
                message: format!("the connection string could not be parsed ({err})"),
            })?;
        Ok(PostgresStoreOptions::new(config))
    }

    /// The same options with another schema.
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The same options with another table prefix.
    #[must_use]
    pub fn table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.table_prefix = prefix.into();
        self
    }

    /// The same options with other pool settings.
    #[must_use]
    pub fn pool(mut self, pool: PoolOptions) -> Self {
        self.pool = pool;
        self
    }

    /// The same options with another statement timeout (`None`: the server's).
    #[must_use]
    pub fn statement_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// The same options with another idle-in-transaction timeout (`None`: the server's).
    #[must_use]
    pub fn idle_in_transaction_session_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_in_transaction_session_timeout = timeout;
        self
    }

    /// The same options with another response timeout (`None`: wait forever).
    #[must_use]
    pub fn response_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// The same options with another long-transaction threshold (`None`: no check).
    #[must_use]
    pub fn long_transaction_warning(mut self, threshold: Option<Duration>) -> Self {
        self.long_transaction_warning = threshold;
        self
    }

    /// The same options with another change-feed retention.
    #[must_use]
    pub fn change_retention(mut self, retention: Duration) -> Self {
        self.change_retention = retention;
        self
    }

    /// The same options with another gap between wake-up notifications.
    #[must_use]
    pub fn notify_interval(mut self, interval: Duration) -> Self {
        self.notify_interval = interval;
        self
    }

    /// Where the store connects (host and port), for messages.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::of(&self.config)
    }

    /// Checks the schema and prefix and builds every name from them.
    ///
    /// # Errors
    ///
    /// [`PostgresError::InvalidIdentifier`].
    pub fn validate(&self) -> Result<(), PostgresError> {
        self.names().map(|_| ())
    }

    pub(crate) fn names(&self) -> Result<Names, PostgresError> {
        Names::new(&self.schema, &self.table_prefix)
    }

    pub(crate) fn password(&self) -> Option<&[u8]> {
        self.config.get_password()
    }

    /// The SQL run on every new session: timeouts, and durability for the relaxed pool.
    pub(crate) fn session_setup(&self, relaxed: bool) -> String {
        // JIT compilation costs milliseconds and pays off only on long analytic queries.
        let mut sql = String::from("SET jit = off;");
        if let Some(timeout) = self.statement_timeout {
            sql.push_str(&format!("SET statement_timeout = {};", timeout.as_millis().max(1)));
        }
        if let Some(timeout) = self.idle_in_transaction_session_timeout {
            sql.push_str(&format!(
                "SET idle_in_transaction_session_timeout = {};",
                timeout.as_millis().max(1)
            ));
        }
        if relaxed {
            sql.push_str("SET synchronous_commit = off;");
        }
        sql
    }
}

impl fmt::Debug for PostgresStoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The driver's Config debug output redacts the password.
        f.debug_struct("PostgresStoreOptions")
            .field("config", &self.config)
            .field("schema", &self.schema)
            .field("table_prefix", &self.table_prefix)
            .field("pool", &self.pool)
            .field("statement_timeout", &self.statement_timeout)
            .field("idle_in_transaction_session_timeout", &self.idle_in_transaction_session_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("long_transaction_warning", &self.long_transaction_warning)
            .field("notify_interval", &self.notify_interval)
            .field("change_retention", &self.change_retention)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::PostgresErrorKind;

    #[test]
    fn debug_output_redacts_the_password() {
        let options =
            PostgresStoreOptions::from_url("postgres://u:topsecret@h:1/db").expect("valid");
        let text = format!("{options:?}");
        assert!(!text.contains("topsecret"), "{text}");
        assert_eq!(options.endpoint().port, 1);
    }

    #[test]
    fn unparsable_urls_are_typed_errors() {
        let err = PostgresStoreOptions::from_url("postgres://u:pw@h:notaport/db").expect_err("bad");
        assert_eq!(err.kind(), PostgresErrorKind::InvalidConfig);
        assert!(!err.to_string().contains("pw@"));
    }
}
