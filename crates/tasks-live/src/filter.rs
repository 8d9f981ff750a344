//! [`SubscriberFilter`]: a subscription's filter split into the part fixed at enqueue (ids,
//! kinds, channels, keys) and the part that moves (status, state), so the hub can tell whether
//! a task may concern a subscriber at all, whether it matches now, and whether it matched in
//! the state the hub last saw it in.
//!
//! Which of these decides a delivery is [`crate::subscriber`]'s business.

use tasks_core::{LifecycleState, TaskFilter, TaskSnapshot, TaskStatus};

use crate::known::Known;

/// A normalized subscription filter, ready to match snapshots.
#[derive(Clone, Debug)]
pub(crate) struct SubscriberFilter {
    /// The filter without states and statuses.
    fixed: TaskFilter,
    states: Vec<LifecycleState>,
    statuses: Vec<TaskStatus>,
}

impl SubscriberFilter {
    /// Splits a normalized filter.
    pub(crate) fn new(filter: &TaskFilter) -> Self {
        let mut fixed = filter.clone();
        let states = std::mem::take(&mut fixed.states);
        let statuses = std::mem::take(&mut fixed.statuses);
        SubscriberFilter { fixed, states, statuses }
    }

    /// Whether the filter names states or statuses: a task may then enter and leave it.
    pub(crate) fn has_moving_part(&self) -> bool {
        !self.states.is_empty() || !self.statuses.is_empty()
    }

    fn moving_part(&self, status: TaskStatus, state: LifecycleState) -> bool {
        (self.states.is_empty() || self.states.contains(&state))
            && (self.statuses.is_empty() || self.statuses.contains(&status))
    }

    /// Whether the fields fixed at enqueue match (the task may concern this subscriber).
    pub(crate) fn fixed_matches(&self, snapshot: &TaskSnapshot) -> bool {
        self.fixed.matches_snapshot(snapshot)
    }

    /// Whether `snapshot` passes the whole filter (the tracker keeps it).
    pub(crate) fn matches(&self, snapshot: &TaskSnapshot) -> bool {
        self.fixed_matches(snapshot) && self.moving_part(snapshot.status, snapshot.state)
    }

    /// Whether the task passed the moving part in the state the hub last sent it in
    /// (`previous`), or the hub knows nothing of it: then a subscriber may hold it.
    pub(crate) fn matched_before(&self, previous: Option<Known>) -> bool {
        previous.is_none_or(|known| self.moving_part(known.status, known.state))
    }
}
