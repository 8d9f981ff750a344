//! [`Capabilities`]: what a store offers beyond the required surface. Callers check them
//! instead of guessing; an operation a store lacks returns
//! [`StoreError::Unsupported`](crate::StoreError::Unsupported).

use serde::{Deserialize, Serialize};

/// What a store offers beyond the required surface.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Capabilities {
    /// [`TaskStore::read_changes`](crate::TaskStore::read_changes) works: every change is
    /// readable in commit order from a cursor.
    pub change_feed: bool,
    /// Tasks can be enqueued inside the caller's own database transaction.
    pub transactional_enqueue: bool,
    /// The store pushes wake-ups when tasks become claimable (so runners need not poll fast).
    pub notifications: bool,
    /// Several processes may share the store safely.
    pub multi_process: bool,
}

impl Capabilities {
    /// No optional capability.
    pub const NONE: Capabilities = Capabilities {
        change_feed: false,
        transactional_enqueue: false,
        notifications: false,
        multi_process: false,
    };

    /// The same capabilities with the change feed.
    #[must_use]
    pub const fn with_change_feed(mut self) -> Self {
        self.change_feed = true;
        self
    }

    /// The same capabilities with multi-process safety.
    #[must_use]
    pub const fn with_multi_process(mut self) -> Self {
        self.multi_process = true;
        self
    }

    /// The same capabilities with transactional enqueue.
    #[must_use]
    pub const fn with_transactional_enqueue(mut self) -> Self {
        self.transactional_enqueue = true;
        self
    }

    /// The same capabilities with wake-up notifications.
    #[must_use]
    pub const fn with_notifications(mut self) -> Self {
        self.notifications = true;
        self
    }
}
