//! [`DashboardError`]: what building or serving a dashboard can fail with, and
//! [`DashboardErrorKind`], what callers and tests match on. (Errors of single HTTP requests
//! are JSON responses, not this type: see [`crate::api`].)

use tasks_live::{LiveError, LiveErrorKind};

/// The error of [`crate::router`], [`crate::Dashboard::new`] and [`crate::serve`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DashboardError {
    /// An option is invalid (a token with characters a cookie cannot carry, say).
    #[error("invalid dashboard option {option}: {reason}")]
    InvalidOption {
        /// Which option.
        option: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The live hub could not be built: no tokio runtime, or a store without a change feed.
    #[error("the dashboard's live hub could not start: {0}")]
    Live(#[from] LiveError),
    /// Serving failed (the listener broke).
    #[error("the dashboard server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// What kind of failure a [`DashboardError`] is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum DashboardErrorKind {
    /// An invalid option.
    InvalidOption,
    /// The hub was built outside a tokio runtime.
    NoRuntime,
    /// The store has no change feed, so nothing live can be shown.
    NoChangeFeed,
    /// Another failure of the live hub.
    Live,
    /// The server's I/O failed.
    Io,
}

impl DashboardError {
    /// The kind of this error.
    pub fn kind(&self) -> DashboardErrorKind {
        match self {
            DashboardError::InvalidOption { .. } => DashboardErrorKind::InvalidOption,
            DashboardError::Live(error) => match error.kind() {
                LiveErrorKind::NoRuntime => DashboardErrorKind::NoRuntime,
                LiveErrorKind::NoEvents => DashboardErrorKind::NoChangeFeed,
                _ => DashboardErrorKind::Live,
            },
            DashboardError::Io(_) => DashboardErrorKind::Io,
        }
    }
}
