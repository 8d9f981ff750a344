//! [`KnownTasks`]: what the hub has already sent about each task (revision, last step `seq`,
//! status and state, and the last progress preview), so each update goes out once whatever
//! path it came by (in-process events or the change feed), and the previous state names the
//! next event.
//!
//! Bounded: past its capacity the oldest entries are forgotten. Forgetting is safe: a
//! forgotten task's next change is sent again in full (its current snapshot and its recent
//! steps), which the tracker deduplicates.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

use tasks_core::{LifecycleState, TaskId, TaskSnapshot, TaskStatus};

/// What was last sent about one task.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Known {
    /// The highest revision sent.
    pub(crate) revision: u64,
    /// Every step up to this `seq` was sent.
    pub(crate) last_seq: u64,
    /// The status of the last snapshot sent.
    pub(crate) status: TaskStatus,
    /// The lifecycle state of the last snapshot sent.
    pub(crate) state: LifecycleState,
    /// The [`preview_print`] of the last progress event sent at `revision`, if any.
    pub(crate) preview: Option<u64>,
}

impl Known {
    pub(crate) fn of(snapshot: &TaskSnapshot, last_seq: u64) -> Self {
        Known {
            revision: snapshot.revision,
            last_seq,
            status: snapshot.status,
            state: snapshot.state,
            preview: None,
        }
    }
}

/// A fingerprint of a snapshot's reported progress (percent, label, meta), to tell a progress
/// preview from the one sent before it at the same revision without keeping the snapshot.
pub(crate) fn preview_print(snapshot: &TaskSnapshot) -> u64 {
    let progress = &snapshot.progress;
    let mut hasher = DefaultHasher::new();
    progress.percent.map(f64::to_bits).hash(&mut hasher);
    progress.label.hash(&mut hasher);
    // A JSON object always encodes; its text stands for it (serde_json values do not hash).
    progress
        .meta
        .as_ref()
        .map(|meta| serde_json::to_string(meta).unwrap_or_default())
        .hash(&mut hasher);
    hasher.finish()
}

/// The hub's memory of what it sent, bounded.
#[derive(Debug)]
pub(crate) struct KnownTasks {
    map: HashMap<TaskId, Known>,
    /// Insertion order, for eviction; may hold ids already removed (skipped when evicting).
    order: VecDeque<TaskId>,
    capacity: usize,
}

impl KnownTasks {
    pub(crate) fn new(capacity: usize) -> Self {
        KnownTasks { map: HashMap::new(), order: VecDeque::new(), capacity: capacity.max(1) }
    }

    pub(crate) fn get(&self, id: &TaskId) -> Option<Known> {
        self.map.get(id).copied()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Records what was sent about a task.
    pub(crate) fn set(&mut self, id: &TaskId, known: Known) {
        if let Some(slot) = self.map.get_mut(id) {
            *slot = known;
            return;
        }
        while self.map.len() >= self.capacity {
            let Some(oldest) = self.order.pop_front() else { break };
            self.map.remove(&oldest);
        }
        self.map.insert(id.clone(), known);
        self.order.push_back(id.clone());
        if self.order.len() > self.capacity.saturating_mul(2) {
            // Removed ids pile up in the order queue; rebuild it from the live entries.
            let map = &self.map;
            self.order.retain(|id| map.contains_key(id));
        }
    }

    /// Forgets a task (it was deleted).
    pub(crate) fn remove(&mut self, id: &TaskId) {
        self.map.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(revision: u64) -> Known {
        Known {
            revision,
            last_seq: 0,
            status: TaskStatus::Queued,
            state: LifecycleState::Queued,
            preview: None,
        }
    }

    fn id(n: usize) -> TaskId {
        TaskId::new(format!("t{n}")).expect("valid id")
    }

    #[test]
    fn stays_within_capacity_forgetting_the_oldest() {
        let mut tasks = KnownTasks::new(3);
        for n in 0..5 {
            tasks.set(&id(n), known(1));
        }
        assert_eq!(tasks.len(), 3);
        assert!(tasks.get(&id(0)).is_none());
        assert!(tasks.get(&id(4)).is_some());
        tasks.set(&id(4), known(2));
        assert_eq!(tasks.get(&id(4)).map(|k| k.revision), Some(2));
    }

    #[test]
    fn removed_ids_do_not_grow_the_order_queue() {
        let mut tasks = KnownTasks::new(2);
        for n in 0..100 {
            tasks.set(&id(n), known(1));
            tasks.remove(&id(n));
        }
        assert!(tasks.order.len() <= 4);
    }
}
