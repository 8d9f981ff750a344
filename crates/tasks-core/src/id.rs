//! Identifiers: [`TaskId`], [`StepId`] and [`LeaseToken`].
//!
//! Generated identifiers are ULIDs (26 characters, sortable by creation time). A caller may
//! choose its own task id at enqueue; it is validated here so every store accepts the same
//! set of ids.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::InvalidInput;

/// Longest accepted task id, in bytes. Long enough for a namespaced key, short enough to stay
/// far below index entry limits.
pub const MAX_TASK_ID_LEN: usize = 128;

/// The identifier of a task: a ULID when the store generates it, or a caller-chosen id of
/// 1 to 128 characters from `A-Z a-z 0-9 _ - . :`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TaskId(String);

impl TaskId {
    /// A fresh ULID-based id.
    pub fn generate() -> Self {
        TaskId(ulid::Ulid::generate().to_string())
    }

    /// Validates a caller-chosen id.
    ///
    /// # Errors
    ///
    /// [`InvalidInput::TaskId`] when the id is empty, longer than [`MAX_TASK_ID_LEN`] bytes, or
    /// holds a character outside `A-Z a-z 0-9 _ - . :`.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidInput> {
        let id = id.into();
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
        if id.is_empty() || id.len() > MAX_TASK_ID_LEN || !id.chars().all(valid_char) {
            let shown: String = id.chars().take(64).collect();
            return Err(InvalidInput::TaskId { id: shown });
        }
        Ok(TaskId(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for TaskId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        TaskId::new(text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TaskId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The identifier of a step record (a ULID).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepId(String);

impl StepId {
    /// A fresh ULID-based id.
    pub fn generate() -> Self {
        StepId(ulid::Ulid::generate().to_string())
    }

    /// Wraps an id read back from a store.
    pub fn from_stored(id: String) -> Self {
        StepId(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The fencing token of one claim of a task.
///
/// A new token is minted at every claim; every worker-side write must present the token of
/// the current claim, so a worker whose lease was taken away can no longer change the task.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeaseToken(String);

impl LeaseToken {
    /// A fresh, unguessable-enough token (a ULID: 80 random bits).
    pub fn generate() -> Self {
        LeaseToken(ulid::Ulid::generate().to_string())
    }

    /// Wraps a token read back from a store or received from a worker.
    pub fn from_stored(token: String) -> Self {
        LeaseToken(token)
    }

    /// The token as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LeaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are credentials of a sort: keep them out of logs by default.
        f.write_str("LeaseToken(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_ulids() {
        let id = TaskId::generate();
        assert_eq!(id.as_str().len(), 26);
        assert_eq!(TaskId::new(id.as_str()).expect("valid"), id);
    }

    #[test]
    fn caller_ids_are_validated() {
        assert!(TaskId::new("report:rpt_42.v1-a").is_ok());
        for bad in ["", "has space", "slash/y", "é", &"x".repeat(MAX_TASK_ID_LEN + 1)] {
            assert!(matches!(TaskId::new(bad), Err(InvalidInput::TaskId { .. })), "{bad:?}");
        }
        assert!(serde_json::from_str::<TaskId>("\"a b\"").is_err());
    }
}
