//! [`StoreFactoryError`]: what the store factory can fail with, and
//! [`StoreFactoryErrorKind`], what callers and tests match on.

use super::driver::Driver;

/// Why a store could not be configured, created, or its schema prepared or printed.
///
/// Messages never hold a password: URLs are shown with their password replaced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreFactoryError {
    /// A store URL that cannot be used (no scheme, an unknown scheme, no path...).
    #[error("invalid store URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL, its password replaced and cut to 200 characters.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A driver name that is not `sqlite`, `postgres` or `postgresql`.
    #[error("unknown store driver {name:?}: use sqlite or postgres")]
    UnknownDriver {
        /// The name given (cut to 40 characters).
        name: String,
    },
    /// The driver exists, but this build leaves it out.
    #[error(
        "the {driver} store is not included in this build: enable the `{feature}` feature of the `tasks` crate"
    )]
    DriverDisabled {
        /// The driver asked for.
        driver: Driver,
        /// The cargo feature that includes it.
        feature: &'static str,
    },
    /// An option the driver does not have (a table prefix for SQLite, say).
    #[error("the {driver} store has no {option} option")]
    UnsupportedOption {
        /// The driver.
        driver: Driver,
        /// The option given.
        option: &'static str,
    },
    /// The SQLite store refused to open or prepare its file.
    #[cfg(feature = "sqlite")]
    #[error(transparent)]
    Sqlite(#[from] tasks_store_sqlite::OpenError),
    /// The PostgreSQL store refused its options, could not connect, or found a schema problem.
    #[cfg(feature = "postgres")]
    #[error(transparent)]
    Postgres(#[from] tasks_store_postgres::PostgresError),
}

/// What kind of failure a [`StoreFactoryError`] is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum StoreFactoryErrorKind {
    /// See [`StoreFactoryError::InvalidUrl`]; also a PostgreSQL URL the driver cannot parse.
    InvalidUrl,
    /// See [`StoreFactoryError::UnknownDriver`].
    UnknownDriver,
    /// See [`StoreFactoryError::DriverDisabled`].
    DriverDisabled,
    /// See [`StoreFactoryError::UnsupportedOption`].
    UnsupportedOption,
    /// An option out of its range, or a schema or prefix that is not a plain identifier.
    InvalidOptions,
    /// The store cannot be reached: a server that does not answer, a directory that does not
    /// exist, a file the system will not open.
    Unavailable,
    /// The schema is missing, newer than this code, or the file is not a database.
    Schema,
    /// Anything else the backend reported.
    Backend,
}

impl StoreFactoryError {
    /// The kind of this error.
    pub fn kind(&self) -> StoreFactoryErrorKind {
        match self {
            StoreFactoryError::InvalidUrl { .. } => StoreFactoryErrorKind::InvalidUrl,
            StoreFactoryError::UnknownDriver { .. } => StoreFactoryErrorKind::UnknownDriver,
            StoreFactoryError::DriverDisabled { .. } => StoreFactoryErrorKind::DriverDisabled,
            StoreFactoryError::UnsupportedOption { .. } => StoreFactoryErrorKind::UnsupportedOption,
            #[cfg(feature = "sqlite")]
            StoreFactoryError::Sqlite(error) => sqlite_kind(error.kind()),
            #[cfg(feature = "postgres")]
            StoreFactoryError::Postgres(error) => postgres_kind(error.kind()),
        }
    }
}

#[cfg(feature = "sqlite")]
fn sqlite_kind(kind: tasks_store_sqlite::OpenErrorKind) -> StoreFactoryErrorKind {
    use tasks_store_sqlite::OpenErrorKind as Open;
    match kind {
        Open::MissingDirectory | Open::Io => StoreFactoryErrorKind::Unavailable,
        Open::NotSqlite | Open::NewerSchema => StoreFactoryErrorKind::Schema,
        Open::InvalidOptions => StoreFactoryErrorKind::InvalidOptions,
        _ => StoreFactoryErrorKind::Backend,
    }
}

#[cfg(feature = "postgres")]
fn postgres_kind(kind: tasks_store_postgres::PostgresErrorKind) -> StoreFactoryErrorKind {
    use tasks_store_postgres::PostgresErrorKind as Pg;
    match kind {
        Pg::InvalidIdentifier => StoreFactoryErrorKind::InvalidOptions,
        Pg::InvalidConfig => StoreFactoryErrorKind::InvalidUrl,
        Pg::Unreachable => StoreFactoryErrorKind::Unavailable,
        Pg::Schema => StoreFactoryErrorKind::Schema,
        _ => StoreFactoryErrorKind::Backend,
    }
}

impl From<StoreFactoryError> for tasks_core::StoreError {
    /// Keeps the meaning a store caller acts on: unreachable stays
    /// [`Unavailable`](tasks_core::StoreError::Unavailable), a schema problem
    /// [`Schema`](tasks_core::StoreError::Schema); the rest is a backend error.
    fn from(error: StoreFactoryError) -> Self {
        let message = error.to_string();
        match error.kind() {
            StoreFactoryErrorKind::Unavailable => {
                tasks_core::StoreError::unavailable(message, error)
            }
            StoreFactoryErrorKind::Schema => tasks_core::StoreError::Schema { message },
            _ => tasks_core::StoreError::backend(message, error),
        }
    }
}
