//! [`TaskAggregate`]: counts of tasks by lifecycle state, status and kind, for dashboards.
//!
//! It is computed from records alone, so a live tracker can recompute it from the snapshots
//! it holds and get what a store would answer for the same tasks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::record::TaskRecord;
use crate::snapshot::TaskSnapshot;
use crate::status::{LifecycleState, TaskStatus};
use crate::timestamp::Timestamp;

/// Counts per lifecycle state; every state is always present.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct StateCounts {
    pub queued: u64,
    pub claimed: u64,
    pub running: u64,
    pub retrying: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub stale: u64,
}

impl StateCounts {
    /// The count of one state.
    pub fn get(&self, state: LifecycleState) -> u64 {
        *self.slot_ref(state)
    }

    /// Adds `n` to one state's count.
    pub fn add(&mut self, state: LifecycleState, n: u64) {
        *self.slot(state) += n;
    }

    fn slot(&mut self, state: LifecycleState) -> &mut u64 {
        match state {
            LifecycleState::Queued => &mut self.queued,
            LifecycleState::Claimed => &mut self.claimed,
            LifecycleState::Running => &mut self.running,
            LifecycleState::Retrying => &mut self.retrying,
            LifecycleState::Succeeded => &mut self.succeeded,
            LifecycleState::Failed => &mut self.failed,
            LifecycleState::Cancelled => &mut self.cancelled,
            LifecycleState::Stale => &mut self.stale,
        }
    }

    fn slot_ref(&self, state: LifecycleState) -> &u64 {
        match state {
            LifecycleState::Queued => &self.queued,
            LifecycleState::Claimed => &self.claimed,
            LifecycleState::Running => &self.running,
            LifecycleState::Retrying => &self.retrying,
            LifecycleState::Succeeded => &self.succeeded,
            LifecycleState::Failed => &self.failed,
            LifecycleState::Cancelled => &self.cancelled,
            LifecycleState::Stale => &self.stale,
        }
    }
}

/// Counts per persisted status; every status is always present.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct StatusCounts {
    pub queued: u64,
    pub claimed: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub cancelled: u64,
}

impl StatusCounts {
    /// The count of one status.
    pub fn get(&self, status: TaskStatus) -> u64 {
        match status {
            TaskStatus::Queued => self.queued,
            TaskStatus::Claimed => self.claimed,
            TaskStatus::Running => self.running,
            TaskStatus::Succeeded => self.succeeded,
            TaskStatus::Failed => self.failed,
            TaskStatus::Cancelled => self.cancelled,
        }
    }

    /// Adds `n` to one status's count.
    pub fn add(&mut self, status: TaskStatus, n: u64) {
        let slot = match status {
            TaskStatus::Queued => &mut self.queued,
            TaskStatus::Claimed => &mut self.claimed,
            TaskStatus::Running => &mut self.running,
            TaskStatus::Succeeded => &mut self.succeeded,
            TaskStatus::Failed => &mut self.failed,
            TaskStatus::Cancelled => &mut self.cancelled,
        };
        *slot += n;
    }
}

/// Aggregate counts of a set of tasks, the spec's `TaskAggregateSnapshot`.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskAggregate {
    /// How many tasks.
    pub total: u64,
    /// How many in each lifecycle state.
    pub by_state: StateCounts,
    /// How many with each persisted status.
    pub by_status: StatusCounts,
    /// How many of each kind.
    pub by_kind: BTreeMap<String, u64>,
    /// The latest `updatedAt` among the tasks counted; `null` when there are none.
    pub updated_at: Option<Timestamp>,
}

impl TaskAggregate {
    /// Counts one task.
    pub fn add(
        &mut self,
        kind: &str,
        status: TaskStatus,
        state: LifecycleState,
        updated_at: Timestamp,
    ) {
        self.add_n(kind, status, state, updated_at, 1);
    }

    /// Counts `n` tasks that share a kind, status and state, `updated_at` being the latest
    /// among them (a store's grouped `count(*)` row); for `n >= 1` the same as `n` calls to
    /// [`add`](Self::add).
    pub fn add_n(
        &mut self,
        kind: &str,
        status: TaskStatus,
        state: LifecycleState,
        updated_at: Timestamp,
        n: u64,
    ) {
        self.total += n;
        self.by_state.add(state, n);
        self.by_status.add(status, n);
        match self.by_kind.get_mut(kind) {
            Some(count) => *count += n,
            None => {
                self.by_kind.insert(kind.to_owned(), n);
            }
        }
        self.updated_at = self.updated_at.max(Some(updated_at));
    }

    /// The aggregate of these records.
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a TaskRecord>) -> Self {
        let mut aggregate = TaskAggregate::default();
        for record in records {
            let state = LifecycleState::of(record);
            aggregate.add(&record.kind, record.status, state, record.updated_at);
        }
        aggregate
    }

    /// The aggregate of these snapshots (what a live tracker holds).
    pub fn from_snapshots<'a>(snapshots: impl IntoIterator<Item = &'a TaskSnapshot>) -> Self {
        let mut aggregate = TaskAggregate::default();
        for snapshot in snapshots {
            aggregate.add(&snapshot.kind, snapshot.status, snapshot.state, snapshot.updated_at);
        }
        aggregate
    }
}
