//! [`SubscriberFilter`]: a subscription's filter split into the part fixed at enqueue (ids,
//! kinds, channels, keys) and the part that moves (status, state), so the hub can tell whether
//! a subscriber held a task *before* an update and must hear that it left.

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

    fn moving_part(&self, status: TaskStatus, state: LifecycleState) -> bool {
        (self.states.is_empty() || self.states.contains(&state))
            && (self.statuses.is_empty() || self.statuses.contains(&status))
    }

    /// Whether the fields fixed at enqueue match (the task may concern this subscriber).
    pub(crate) fn fixed_matches(&self, snapshot: &TaskSnapshot) -> bool {
        self.fixed.matches_snapshot(snapshot)
    }

    /// Whether the subscriber must hear about `snapshot`: it matches now, or it matched before
    /// (`previous`, so the subscriber's tracker drops it), or nothing is known of before.
    pub(crate) fn wants(&self, snapshot: &TaskSnapshot, previous: Option<Known>) -> bool {
        self.fixed_matches(snapshot)
            && (self.moving_part(snapshot.status, snapshot.state)
                || previous.is_none_or(|known| self.moving_part(known.status, known.state)))
    }
}
