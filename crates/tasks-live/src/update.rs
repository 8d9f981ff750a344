//! [`LiveUpdate`]: one message as the hub hands it to a listener, with the change-feed cursor
//! a reconnecting subscriber resumes from, and its JSON encoded once for every connection.

use std::sync::{Arc, OnceLock};

use tasks_core::{ChangeCursor, TaskLiveMessage};

/// A live message and the resume position that comes with it. Cheap to clone (shared).
///
/// `cursor` is set when everything up to that change-feed position has been delivered to the
/// subscriber (or was in its bootstrap): a subscriber that reconnects with the last cursor it
/// saw misses nothing. Messages in the middle of a batch, and in-process events, carry none.
#[derive(Clone)]
pub struct LiveUpdate {
    inner: Arc<Inner>,
    cursor: Option<ChangeCursor>,
}

struct Inner {
    message: TaskLiveMessage,
    json: OnceLock<String>,
}

impl std::fmt::Debug for LiveUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveUpdate")
            .field("message", &self.inner.message)
            .field("cursor", &self.cursor)
            .finish()
    }
}

impl LiveUpdate {
    /// A message with the cursor it leaves the subscriber at, if any.
    pub fn new(message: TaskLiveMessage, cursor: Option<ChangeCursor>) -> Self {
        LiveUpdate { inner: Arc::new(Inner { message, json: OnceLock::new() }), cursor }
    }

    /// The message, in the spec's `TaskLiveMessage` shape.
    pub fn message(&self) -> &TaskLiveMessage {
        &self.inner.message
    }

    /// Whether the message is a bootstrap (a subscriber's whole state), not an event.
    #[cfg(feature = "hub")]
    pub(crate) fn is_bootstrap(&self) -> bool {
        matches!(self.inner.message, TaskLiveMessage::Bootstrap(_))
    }

    /// The resume position after this message, when it completes one.
    pub fn cursor(&self) -> Option<&ChangeCursor> {
        self.cursor.as_ref()
    }

    /// The message as JSON text, encoded on first use and shared by every clone.
    pub fn json(&self) -> &str {
        self.inner.json.get_or_init(|| {
            // A message is plain data (strings, numbers, JSON values): it always encodes.
            serde_json::to_string(&self.inner.message).unwrap_or_else(|_| "{}".to_owned())
        })
    }

    /// The same message with another cursor (the message and its JSON stay shared).
    #[must_use]
    pub fn with_cursor(&self, cursor: Option<ChangeCursor>) -> Self {
        LiveUpdate { inner: Arc::clone(&self.inner), cursor }
    }
}
