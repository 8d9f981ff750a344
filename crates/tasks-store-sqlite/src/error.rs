//! Errors: [`OpenError`] (why a database could not be opened or prepared, with its
//! [`OpenErrorKind`]) and the mapping of SQLite and pool errors onto
//! [`StoreError`](tasks_core::StoreError), the error of every store method.

use std::path::PathBuf;

use rusqlite::ErrorCode;
use tasks_core::{InvalidInput, StoreError};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a database could not be opened or its schema prepared.
///
/// Every refusal that concerns the file itself (a missing directory, a file that is not an
/// SQLite database, a schema newer than this code) happens before anything is written: the
/// file is left exactly as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The directory that should hold the database does not exist. The store creates the file,
    /// never its directories, so a typo in a path cannot scatter directories around.
    #[error("cannot open {path}: its directory does not exist")]
    MissingDirectory {
        /// The database path given.
        path: PathBuf,
    },
    /// The path holds something that is not an SQLite database (or one too damaged to read).
    #[error("{path} is not an SQLite database")]
    NotSqlite {
        /// The database path given.
        path: PathBuf,
    },
    /// The database was written by a newer version of this store.
    #[error(
        "{path} has task schema version {found}, newer than version {supported} known to this \
         build; upgrade tasks-store-sqlite"
    )]
    NewerSchema {
        /// The database path given.
        path: PathBuf,
        /// The version found in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// An option is out of its range.
    #[error("invalid option {option}: {expected}")]
    InvalidOptions {
        /// Which option.
        option: &'static str,
        /// The accepted range, for people.
        expected: &'static str,
    },
    /// The file system refused (permissions, a full disk...).
    #[error("cannot open {path}: {source}")]
    Io {
        /// The database path given.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused to open or prepare the database.
    #[error("SQLite failed on {path}: {source}")]
    Sqlite {
        /// The database path given.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: BoxError,
    },
}

/// What kind of failure an [`OpenError`] is; tests and callers match on this.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum OpenErrorKind {
    /// See [`OpenError::MissingDirectory`].
    MissingDirectory,
    /// See [`OpenError::NotSqlite`].
    NotSqlite,
    /// See [`OpenError::NewerSchema`].
    NewerSchema,
    /// See [`OpenError::InvalidOptions`].
    InvalidOptions,
    /// See [`OpenError::Io`].
    Io,
    /// See [`OpenError::Sqlite`].
    Sqlite,
}

impl OpenError {
    /// The kind of this error.
    pub fn kind(&self) -> OpenErrorKind {
        match self {
            OpenError::MissingDirectory { .. } => OpenErrorKind::MissingDirectory,
            OpenError::NotSqlite { .. } => OpenErrorKind::NotSqlite,
            OpenError::NewerSchema { .. } => OpenErrorKind::NewerSchema,
            OpenError::InvalidOptions { .. } => OpenErrorKind::InvalidOptions,
            OpenError::Io { .. } => OpenErrorKind::Io,
            OpenError::Sqlite { .. } => OpenErrorKind::Sqlite,
        }
    }

    /// An SQLite error while opening `path`; a file SQLite calls "not a database" or corrupt is
    /// reported as [`OpenError::NotSqlite`].
    pub(crate) fn sqlite(path: &std::path::Path, error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                OpenError::NotSqlite { path: path.to_owned() }
            }
            _ => OpenError::Sqlite { path: path.to_owned(), source: Box::new(error) },
        }
    }
}

impl From<OpenError> for StoreError {
    /// Problems with the file or its schema become [`StoreError::Schema`], an unreachable file
    /// [`StoreError::Unavailable`], a bad option [`StoreError::InvalidInput`].
    fn from(error: OpenError) -> Self {
        match error {
            OpenError::NotSqlite { .. } | OpenError::NewerSchema { .. } => {
                StoreError::Schema { message: error.to_string() }
            }
            OpenError::InvalidOptions { option, expected } => {
                StoreError::InvalidInput(InvalidInput::Range { field: option, expected })
            }
            OpenError::MissingDirectory { .. } => {
                StoreError::Unavailable { message: error.to_string(), source: None }
            }
            OpenError::Io { .. } | OpenError::Sqlite { .. } => {
                let message = error.to_string();
                StoreError::Unavailable { message, source: Some(Box::new(error)) }
            }
        }
    }
}

/// Maps an SQLite error met while serving a store call.
///
/// Errors of the environment (busy past the timeout, I/O, a full disk, a read-only or
/// vanished file) are [`StoreError::Unavailable`]: retrying later may work. A damaged file is
/// [`StoreError::Schema`]. Anything else is [`StoreError::Backend`].
pub(crate) fn sql(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::ReadOnly
            | ErrorCode::FileLockingProtocolFailed
            | ErrorCode::OutOfMemory,
        ) => StoreError::unavailable("SQLite could not serve the call", error),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            StoreError::Schema { message: format!("the database file is damaged: {error}") }
        }
        _ => StoreError::backend("SQLite failed", error),
    }
}

/// Maps a pool checkout failure: no read connection could be had in time.
pub(crate) fn pool(error: r2d2::Error) -> StoreError {
    StoreError::unavailable("no SQLite connection available", error)
}

/// A value read back from the database that does not decode: the file holds something this
/// code did not write.
pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend { message: format!("unreadable stored value: {what}"), source: None }
}
