//! Errors: [`PostgresError`] (what setting up the store can fail with: bad options, an
//! unreachable server, a schema problem) and the mapping of driver errors to core's
//! [`StoreError`] that every `TaskStore` method returns.
//!
//! No message built here ever holds a password: connection errors name the host and port (the
//! [`Endpoint`]) and the driver's own message, which does not carry the password either, and
//! any occurrence of the configured password is scrubbed as a second line of defence.

use std::fmt;

use tasks_core::{InvalidInput, StoreError};

/// The kind of a [`PostgresError`], for callers and tests to match on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum PostgresErrorKind {
    /// A schema or table prefix option that is not a plain identifier.
    InvalidIdentifier,
    /// A connection URL or setting that cannot be used.
    InvalidConfig,
    /// The server could not be reached or refused the connection.
    Unreachable,
    /// The schema is missing, older or newer than this code.
    Schema,
    /// Anything else the server reported.
    Database,
}

/// Where the store connects: host(s) and port, for error messages (never the password).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Endpoint {
    /// The host name, address or socket directory (several joined by `,`).
    pub host: String,
    /// The port.
    pub port: u16,
}

impl Endpoint {
    /// The endpoint a driver configuration points at.
    pub fn of(config: &postgres::Config) -> Self {
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|host| match host {
                postgres::config::Host::Tcp(name) => name.clone(),
                postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let host = if hosts.is_empty() { "localhost".to_owned() } else { hosts.join(",") };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        Endpoint { host, port }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// What setting up or preparing the store can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresError {
    /// A schema or table prefix that is not a plain identifier, or too long.
    #[error("invalid {option} {value:?}: {reason}")]
    InvalidIdentifier {
        /// Which option (`schema`, `table_prefix`).
        option: &'static str,
        /// The value given (cut to 80 characters).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A connection URL or setting that cannot be used.
    #[error("invalid connection settings: {message}")]
    InvalidConfig {
        /// What is wrong (never echoing a password).
        message: String,
    },
    /// The server could not be reached, or refused us.
    #[error("cannot connect to PostgreSQL at {host}:{port}: {message}")]
    Unreachable {
        /// The host (name, address or socket directory).
        host: String,
        /// The port.
        port: u16,
        /// The driver's message, password scrubbed.
        message: String,
        /// The driver's error.
        #[source]
        source: Option<postgres::Error>,
    },
    /// The schema is missing, older or newer than this code.
    #[error("schema problem: {message}")]
    Schema {
        /// What is wrong.
        message: String,
    },
    /// Anything else the server reported.
    #[error("PostgreSQL error: {message}")]
    Database {
        /// What failed.
        message: String,
        /// The driver's error.
        #[source]
        source: Option<postgres::Error>,
    },
}

impl PostgresError {
    /// The kind of this error.
    pub fn kind(&self) -> PostgresErrorKind {
        match self {
            PostgresError::InvalidIdentifier { .. } => PostgresErrorKind::InvalidIdentifier,
            PostgresError::InvalidConfig { .. } => PostgresErrorKind::InvalidConfig,
            PostgresError::Unreachable { .. } => PostgresErrorKind::Unreachable,
            PostgresError::Schema { .. } => PostgresErrorKind::Schema,
            PostgresError::Database { .. } => PostgresErrorKind::Database,
        }
    }

    /// A connection failure at `endpoint`, with `password` scrubbed from the message.
    pub(crate) fn unreachable(
        endpoint: &Endpoint,
        err: postgres::Error,
        password: Option<&[u8]>,
    ) -> Self {
        PostgresError::Unreachable {
            host: endpoint.host.clone(),
            port: endpoint.port,
            message: scrub(&err.to_string(), password),
            source: Some(err),
        }
    }

    /// A driver error while setting up: unreachable when it is a connection failure.
    pub(crate) fn from_driver(
        endpoint: &Endpoint,
        err: postgres::Error,
        password: Option<&[u8]>,
    ) -> Self {
        if is_connection_error(&err) {
            return PostgresError::unreachable(endpoint, err, password);
        }
        PostgresError::Database { message: scrub(&err.to_string(), password), source: Some(err) }
    }
}

impl From<PostgresError> for StoreError {
    fn from(err: PostgresError) -> Self {
        match err {
            PostgresError::InvalidIdentifier { option, reason, .. } => {
                StoreError::InvalidInput(InvalidInput::Text { field: option, reason })
            }
            PostgresError::InvalidConfig { message } => {
                StoreError::Backend { message, source: None }
            }
            PostgresError::Schema { message } => StoreError::Schema { message },
            err @ PostgresError::Unreachable { .. } => {
                StoreError::Unavailable { message: err.to_string(), source: Some(Box::new(err)) }
            }
            err @ PostgresError::Database { .. } => {
                StoreError::Backend { message: err.to_string(), source: Some(Box::new(err)) }
            }
        }
    }
}

/// Replaces every occurrence of the password in `text`.
pub(crate) fn scrub(text: &str, password: Option<&[u8]>) -> String {
    match password.and_then(|password| std::str::from_utf8(password).ok()) {
        Some(password) if !password.is_empty() => text.replace(password, "********"),
        _ => text.to_owned(),
    }
}

/// The SQLSTATE of a server error, if the error came from the server.
pub(crate) fn sqlstate(err: &postgres::Error) -> Option<&str> {
    err.as_db_error().map(|db| db.code().code())
}

/// Whether `err` means the connection is gone or the server is not serving (the operation
/// may be retried on a fresh connection if nothing could have been committed).
pub(crate) fn is_connection_error(err: &postgres::Error) -> bool {
    if err.is_closed() {
        return true;
    }
    match sqlstate(err) {
        // Connection exceptions, shutdown in progress, too many connections.
        Some(code) => {
            code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
        }
        None => {
            let mut source: Option<&(dyn std::error::Error + 'static)> =
                std::error::Error::source(err);
            while let Some(inner) = source {
                if inner.is::<std::io::Error>() {
                    return true;
                }
                source = inner.source();
            }
            false
        }
    }
}

/// Whether the server rolled the statement back for a reason a retry can cure
/// (serialization failure, deadlock).
pub(crate) fn is_transient(err: &postgres::Error) -> bool {
    matches!(sqlstate(err), Some("40001" | "40P01"))
}

/// The constraint a unique violation (23505) hit, if `err` is one.
pub(crate) fn unique_violation(err: &postgres::Error) -> Option<&str> {
    let db = err.as_db_error()?;
    (db.code().code() == "23505").then(|| db.constraint().unwrap_or(""))
}

/// Maps a driver error during a store operation to core's error.
pub(crate) fn store_error(endpoint: &Endpoint, err: postgres::Error) -> StoreError {
    if is_connection_error(&err) {
        StoreError::unavailable(format!("PostgreSQL at {endpoint}: {err}"), err)
    } else {
        StoreError::backend(format!("PostgreSQL at {endpoint}: {err}"), err)
    }
}

/// Maps a pool checkout failure (no connection could be made in time).
pub(crate) fn pool_error(endpoint: &Endpoint, err: r2d2::Error) -> StoreError {
    StoreError::unavailable(format!("no connection to PostgreSQL at {endpoint}: {err}"), err)
}

/// A row that does not decode into the data model: the table holds something this code did
/// not write.
pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Backend { message: format!("stored task data is not valid: {what}"), source: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_hides_the_password() {
        assert_eq!(scrub("a hunter2 b", Some(b"hunter2")), "a ******** b");
        assert_eq!(scrub("nothing", None), "nothing");
        assert_eq!(scrub("nothing", Some(b"")), "nothing");
    }

    #[test]
    fn endpoint_names_host_and_port() {
        let config: postgres::Config =
            "postgres://u:secret@db.example:6543/x".parse().expect("valid url");
        let endpoint = Endpoint::of(&config);
        assert_eq!(endpoint, Endpoint { host: "db.example".into(), port: 6543 });
        assert_eq!(endpoint.to_string(), "db.example:6543");
    }
}
