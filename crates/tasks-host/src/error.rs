//! [`HostError`]: what the host's methods return, and [`HostErrorKind`], what callers and tests
//! match on.

use tasks_core::{InvalidInput, StoreError, StoreErrorKind};

/// The error of a host method.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The store refused or failed the call; its own kind says why.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An option or registration is invalid; nothing was changed.
    #[error("invalid configuration: {0}")]
    Config(#[from] InvalidInput),
    /// A task input could not be encoded as JSON.
    #[error("the input does not encode as JSON: {message}")]
    Encode {
        /// What serde said.
        message: String,
    },
    /// The host is not in a state that allows the call (starting while it stops, say).
    #[error("cannot {operation} while the host is {state}")]
    InvalidState {
        /// What was attempted.
        operation: &'static str,
        /// The host's state.
        state: &'static str,
    },
    /// There is no tokio runtime to run on: call the host from inside one.
    #[error("no tokio runtime is running: {message}")]
    NoRuntime {
        /// What failed.
        message: String,
    },
}

/// What kind of failure a [`HostError`] is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum HostErrorKind {
    /// The store's error, by its kind.
    Store(StoreErrorKind),
    /// An invalid option or registration.
    Config,
    /// An input that does not encode.
    Encode,
    /// A call the host's state does not allow.
    InvalidState,
    /// No tokio runtime.
    NoRuntime,
}

impl HostError {
    /// The kind of this error.
    pub fn kind(&self) -> HostErrorKind {
        match self {
            HostError::Store(error) => HostErrorKind::Store(error.kind()),
            HostError::Config(_) => HostErrorKind::Config,
            HostError::Encode { .. } => HostErrorKind::Encode,
            HostError::InvalidState { .. } => HostErrorKind::InvalidState,
            HostError::NoRuntime { .. } => HostErrorKind::NoRuntime,
        }
    }

    /// The store's error, when the store failed the call.
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            HostError::Store(error) => Some(error),
            _ => None,
        }
    }
}
