//! [`HostState`]: what `TaskHost::state` tells (the spec's `getState`): whether the host runs,
//! what it runs now, and what it can run.

use std::collections::BTreeMap;

use serde::Serialize;
use tasks_core::Timestamp;

/// Where a host is in its life.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostStatus {
    /// Built, never started: reads and enqueues work, nothing is claimed.
    Idle,
    /// Claiming and running tasks.
    Running,
    /// Draining: no new claims; running tasks finish or are released.
    Stopping,
    /// Stopped; `start` may run it again.
    Stopped,
}

impl HostStatus {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            HostStatus::Idle => "idle",
            HostStatus::Running => "running",
            HostStatus::Stopping => "stopping",
            HostStatus::Stopped => "stopped",
        }
    }
}

/// A host's state at one moment.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HostState {
    /// Where the host is in its life.
    pub status: HostStatus,
    /// The runner id it claims as.
    pub runner_id: String,
    /// When it was last started.
    pub started_at: Option<Timestamp>,
    /// Tasks it runs at once at most.
    pub concurrency: u32,
    /// Tasks it runs now (claimed or running attempts, finishing ones included).
    pub active: u32,
    /// The same per kind.
    pub active_by_kind: BTreeMap<String, u32>,
    /// The kinds it has handlers for, sorted.
    pub kinds: Vec<String>,
}
