//! The change feed: [`Change`]s readable in commit order from an opaque [`ChangeCursor`], so
//! a process that runs no workers (a web server) follows tasks run by other processes.
//!
//! A change names a task and the revision it reached (or its deletion); a reader re-reads the
//! task and its steps after the last `seq` it holds. Cursors are opaque strings owned by the
//! store; a cursor older than what the store keeps is refused with
//! [`StoreError::CursorExpired`](crate::StoreError::CursorExpired), and the reader starts again
//! from a fresh bootstrap.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::TaskId;

/// A position in a store's change feed. Opaque: only the store that made it reads it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChangeCursor(String);

impl ChangeCursor {
    /// Wraps a store's cursor text.
    pub fn new(text: impl Into<String>) -> Self {
        ChangeCursor(text.into())
    }

    /// The cursor text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ChangeCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChangeCursor({})", self.0)
    }
}

impl fmt::Display for ChangeCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What happened to a task.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The task was created or changed (including a step appended).
    Updated,
    /// The task was deleted by retention.
    Deleted,
}

/// One entry of the change feed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The position just after this change.
    pub cursor: ChangeCursor,
    /// The task.
    pub task_id: TaskId,
    /// The revision the task reached (for a deletion, the last one it had).
    pub revision: u64,
    /// What happened.
    pub kind: ChangeKind,
}

/// A page of the change feed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangePage {
    /// Changes in commit order.
    pub changes: Vec<Change>,
    /// Where to read on from: the cursor of the last change; when there is none, a position
    /// no earlier than the one given (a store may refine it, e.g. noting that transactions it
    /// waited for have ended).
    pub next: ChangeCursor,
}
