//! [`LiveError`]: what the hub's methods return, and [`LiveErrorKind`], what callers and tests
//! match on.

use tasks_core::{InvalidInput, StoreError, StoreErrorKind};
use tasks_host::{HostError, HostErrorKind};

/// The error of a hub method.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// The subscription query is invalid (a bad channel, kind or key, too many ids).
    #[error("invalid subscription query: {0}")]
    InvalidQuery(#[from] InvalidInput),
    /// The store failed a read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The host failed a read.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The hub was created outside a tokio runtime.
    #[error("the live hub needs a tokio runtime: create it from inside one")]
    NoRuntime,
    /// The source can deliver no events: a store without a change feed and no host.
    #[error("the live source delivers no events: give it a host, or a store with a change feed")]
    NoEvents,
}

/// What kind of failure a [`LiveError`] is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum LiveErrorKind {
    /// An invalid query.
    InvalidQuery,
    /// The store's error, by its kind (also when it came through the host).
    Store(StoreErrorKind),
    /// Another host error.
    Host(HostErrorKind),
    /// No tokio runtime.
    NoRuntime,
    /// A source without events.
    NoEvents,
}

impl LiveError {
    /// The kind of this error.
    pub fn kind(&self) -> LiveErrorKind {
        match self {
            LiveError::InvalidQuery(_) => LiveErrorKind::InvalidQuery,
            LiveError::Store(error) => LiveErrorKind::Store(error.kind()),
            LiveError::Host(error) => match error.store_error() {
                Some(store) => LiveErrorKind::Store(store.kind()),
                None => LiveErrorKind::Host(error.kind()),
            },
            LiveError::NoRuntime => LiveErrorKind::NoRuntime,
            LiveError::NoEvents => LiveErrorKind::NoEvents,
        }
    }

    /// Whether the error says a resume cursor is too old (or not from this store).
    pub fn is_cursor_expired(&self) -> bool {
        self.kind() == LiveErrorKind::Store(StoreErrorKind::CursorExpired)
    }
}
