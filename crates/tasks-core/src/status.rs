//! [`TaskStatus`] (the six persisted statuses) and [`LifecycleState`] (the eight states a UI
//! shows), and how the second is resolved from a record.

use serde::{Deserialize, Serialize};

use crate::record::TaskRecord;

/// The persisted status of a task: queued → claimed → running → succeeded | failed | cancelled.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting to be claimed (possibly until its `scheduledAt` or retry time).
    Queued,
    /// Taken by a runner under a lease, not yet started.
    Claimed,
    /// Running under a lease.
    Running,
    /// Finished with an output.
    Succeeded,
    /// Finished with an error, with no attempt left or a non-retryable error.
    Failed,
    /// Cancelled before or while running.
    Cancelled,
}

impl TaskStatus {
    /// All six statuses, in lifecycle order.
    pub const ALL: [TaskStatus; 6] = [
        TaskStatus::Queued,
        TaskStatus::Claimed,
        TaskStatus::Running,
        TaskStatus::Succeeded,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ];

    /// The wire name (`queued`, `claimed`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Claimed => "claimed",
            TaskStatus::Running => "running",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }

    /// Whether the task is finished for good.
    pub const fn is_terminal(self) -> bool {
        matches!(self, TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Cancelled)
    }

    /// Whether the task is open: queued, claimed or running. Dedupe and supersede look only at
    /// open tasks.
    pub const fn is_open(self) -> bool {
        !self.is_terminal()
    }

    /// Whether a runner holds the task under a lease (claimed or running).
    pub const fn is_active(self) -> bool {
        matches!(self, TaskStatus::Claimed | TaskStatus::Running)
    }
}

/// The lifecycle state shown to people: the persisted status, refined by `retrying` (queued
/// again after a failed attempt) and `stale` (claimed or running but silent for too long).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleState {
    /// Waiting for its first attempt.
    Queued,
    /// Taken by a runner, not yet started.
    Claimed,
    /// Running and reporting.
    Running,
    /// Queued again after a failed attempt, waiting for its retry.
    Retrying,
    /// Finished with an output.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Cancelled.
    Cancelled,
    /// Claimed or running, but silent for longer than the watchdog allows.
    Stale,
}

impl LifecycleState {
    /// All eight states.
    pub const ALL: [LifecycleState; 8] = [
        LifecycleState::Queued,
        LifecycleState::Claimed,
        LifecycleState::Running,
        LifecycleState::Retrying,
        LifecycleState::Succeeded,
        LifecycleState::Failed,
        LifecycleState::Cancelled,
        LifecycleState::Stale,
    ];

    /// The wire name (`queued`, `retrying`, `stale`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            LifecycleState::Queued => "queued",
            LifecycleState::Claimed => "claimed",
            LifecycleState::Running => "running",
            LifecycleState::Retrying => "retrying",
            LifecycleState::Succeeded => "succeeded",
            LifecycleState::Failed => "failed",
            LifecycleState::Cancelled => "cancelled",
            LifecycleState::Stale => "stale",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == name)
    }

    /// Resolves the lifecycle state of a record.
    ///
    /// - `stale` when the task is claimed or running and `staleAt` is set;
    /// - `retrying` when the task is queued and `retryScheduledAt` is set (it failed an attempt
    ///   and has not been claimed again);
    /// - otherwise the persisted status.
    pub fn of(record: &TaskRecord) -> Self {
        Self::resolve(record.status, record.retry_scheduled_at.is_some(), record.stale_at.is_some())
    }

    /// The resolution rule of [`LifecycleState::of`] on its three inputs, for stores that
    /// resolve the state in their own query language and want to check it against this one.
    pub const fn resolve(status: TaskStatus, retry_scheduled: bool, stale: bool) -> Self {
        match status {
            TaskStatus::Queued if retry_scheduled => LifecycleState::Retrying,
            TaskStatus::Queued => LifecycleState::Queued,
            TaskStatus::Claimed if stale => LifecycleState::Stale,
            TaskStatus::Claimed => LifecycleState::Claimed,
            TaskStatus::Running if stale => LifecycleState::Stale,
            TaskStatus::Running => LifecycleState::Running,
            TaskStatus::Succeeded => LifecycleState::Succeeded,
            TaskStatus::Failed => LifecycleState::Failed,
            TaskStatus::Cancelled => LifecycleState::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for status in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).expect("serializes");
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        for state in LifecycleState::ALL {
            assert_eq!(LifecycleState::parse(state.as_str()), Some(state));
            let json = serde_json::to_string(&state).expect("serializes");
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
    }

    #[test]
    fn resolution_refines_status() {
        use LifecycleState as S;
        use TaskStatus as T;
        assert_eq!(S::resolve(T::Queued, false, false), S::Queued);
        assert_eq!(S::resolve(T::Queued, true, false), S::Retrying);
        assert_eq!(S::resolve(T::Queued, false, true), S::Queued, "a queued task is never stale");
        assert_eq!(S::resolve(T::Running, false, true), S::Stale);
        assert_eq!(S::resolve(T::Claimed, false, true), S::Stale);
        assert_eq!(S::resolve(T::Running, true, false), S::Running);
        assert_eq!(S::resolve(T::Failed, true, true), S::Failed);
    }
}
