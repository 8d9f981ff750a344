//! [`HeldTasks`]: the hub's mirror of which tasks one subscriber's tracker holds, and at which
//! revision, so the hub can tell that subscriber when a task it holds leaves its filter.
//!
//! The hub's own memory ([`crate::known`]) says what the *hub* last saw of a task, which is
//! not what a subscriber holds: a bootstrap read may be ahead of the change-feed follower (it
//! read a task running that the follower last saw queued). Deciding from the hub's memory
//! then drops the update in which the task leaves, and the subscriber holds it forever.
//!
//! The mirror applies the tracker's own rules to what the subscriber is sent: a bootstrap
//! replaces the set (keeping a higher revision already held); a snapshot newer than the one
//! held replaces it, or removes the task when it no longer matches the filter. Only
//! subscribers whose filter has a moving part (states or statuses) keep one: for the others,
//! whether a task concerns them never changes.
//!
//! Bounded: once full, new holdings are not recorded and the mirror stops being *complete*;
//! the hub then also sends what its own memory says the subscriber may hold (see
//! [`crate::subscriber`]), which is right for a task sent live: the hub's memory of it is
//! what it sent. A bootstrap always fits, so the tasks a bootstrap may have read ahead of
//! the hub are always recorded.
//!
//! A resumed subscriber is *unknown* until its next bootstrap: the hub never saw what its
//! tracker kept from before, and that may have been read ahead of the hub's memory too (an
//! earlier bootstrap, by this hub or another). It is sent every update whose fixed fields
//! match, and its tracker drops what does not pass the filter.

use std::collections::HashMap;

use tasks_core::{TaskId, TaskSnapshot};

/// What one subscriber's tracker holds, as far as the hub can tell. See the module docs.
#[derive(Debug)]
pub(crate) struct HeldTasks {
    /// Off for a filter without a moving part: nothing to track.
    enabled: bool,
    revisions: HashMap<TaskId, u64>,
    coverage: Coverage,
    capacity: usize,
}

/// How much of what the tracker holds `revisions` records.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Coverage {
    /// Every task the tracker holds is recorded: a task not recorded is not held.
    Complete,
    /// Some may not be (before a bootstrap, or past the capacity).
    Partial,
    /// Resumed without a bootstrap: the tracker may hold any task.
    Unknown,
}

impl HeldTasks {
    /// An empty mirror that knows nothing yet (partial until a bootstrap seeds it).
    pub(crate) fn new(enabled: bool, capacity: usize) -> Self {
        HeldTasks {
            enabled,
            revisions: HashMap::new(),
            coverage: Coverage::Partial,
            capacity: capacity.max(1),
        }
    }

    /// Whether the tracker holds `id` (as far as recorded).
    pub(crate) fn holds(&self, id: &TaskId) -> bool {
        self.revisions.contains_key(id)
    }

    /// Whether the tracker may hold a task that is not recorded: never when the record is
    /// complete, always after a resume, and otherwise when it passed the filter in the state
    /// the hub last sent it in (`matched_before`).
    pub(crate) fn may_hold_unrecorded(&self, matched_before: bool) -> bool {
        match self.coverage {
            Coverage::Complete => false,
            Coverage::Partial => matched_before,
            Coverage::Unknown => true,
        }
    }

    /// Whether every task the tracker holds is recorded: a task not recorded is not held.
    #[cfg(test)]
    pub(crate) fn is_complete(&self) -> bool {
        self.coverage == Coverage::Complete
    }

    /// The subscriber resumed from a cursor: its tracker kept tasks this hub never sent.
    pub(crate) fn resumed(&mut self) {
        self.coverage = Coverage::Unknown;
    }

    /// A bootstrap was sent: the tracker now holds exactly its snapshots (or a newer revision
    /// of one it held already).
    pub(crate) fn seed(&mut self, snapshots: &[TaskSnapshot]) {
        if !self.enabled {
            return;
        }
        let mut revisions = HashMap::with_capacity(snapshots.len().min(self.capacity));
        self.coverage = Coverage::Complete;
        for snapshot in snapshots {
            if revisions.len() >= self.capacity {
                self.coverage = Coverage::Partial;
                break;
            }
            let held = self.revisions.get(&snapshot.task_id).copied().unwrap_or(0);
            revisions.insert(snapshot.task_id.clone(), snapshot.revision.max(held));
        }
        self.revisions = revisions;
    }

    /// A snapshot at `revision` was sent; `matches` says whether it passes the whole filter.
    /// A revision not newer than the one held changes nothing: the tracker ignores an older
    /// one, and one at the same revision has the same state (when in doubt, a task counted as
    /// held only costs an update sent that the tracker drops).
    pub(crate) fn record(&mut self, id: &TaskId, revision: u64, matches: bool) {
        if !self.enabled {
            return;
        }
        let full = self.revisions.len() >= self.capacity;
        match self.revisions.get_mut(id) {
            Some(held) if *held >= revision => {}
            Some(held) if matches => *held = revision,
            Some(_) => {
                self.revisions.remove(id);
            }
            None if !matches => {}
            None if full => {
                if self.coverage == Coverage::Complete {
                    self.coverage = Coverage::Partial;
                }
            }
            None => {
                self.revisions.insert(id.clone(), revision);
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.revisions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tasks_core::{NewTask, Timestamp};

    fn id(n: usize) -> TaskId {
        TaskId::new(format!("t{n}")).expect("valid id")
    }

    fn snapshot(n: usize, revision: u64) -> TaskSnapshot {
        let options = tasks_core::EnqueueOptions::new().id(id(n));
        let mut record = NewTask::new("k", json!({}))
            .with_options(options)
            .into_record(Timestamp::from_millis(1))
            .expect("valid task");
        record.revision = revision;
        TaskSnapshot::from_record(&record)
    }

    #[test]
    fn a_bootstrap_seeds_and_later_snapshots_follow_the_tracker_rules() {
        let mut held = HeldTasks::new(true, 10);
        assert!(!held.is_complete(), "nothing is known before a bootstrap");
        held.seed(&[snapshot(1, 5), snapshot(2, 3)]);
        assert!(held.is_complete());
        assert!(held.holds(&id(1)) && held.holds(&id(2)));
        held.record(&id(1), 4, false);
        assert!(held.holds(&id(1)), "an older revision changes nothing");
        held.record(&id(1), 5, false);
        assert!(held.holds(&id(1)), "nor does the same revision");
        held.record(&id(1), 6, false);
        assert!(!held.holds(&id(1)), "a newer snapshot outside the filter removes it");
        held.record(&id(3), 1, false);
        assert!(!held.holds(&id(3)), "a task outside the filter never comes in");
        held.record(&id(3), 2, true);
        assert!(held.holds(&id(3)));
        held.seed(&[snapshot(3, 1)]);
        held.record(&id(3), 2, false);
        assert!(held.holds(&id(3)), "a reseed keeps the higher revision held (2), not 1");
        held.record(&id(3), 3, false);
        assert!(!held.holds(&id(3)));
        assert!(!held.holds(&id(2)), "a reseed drops what the bootstrap does not hold");
    }

    #[test]
    fn past_its_capacity_it_stops_recording_and_says_so() {
        let mut held = HeldTasks::new(true, 2);
        held.seed(&[snapshot(1, 1)]);
        held.record(&id(2), 1, true);
        assert!(held.is_complete());
        held.record(&id(3), 1, true);
        assert!(!held.is_complete(), "a holding it could not record");
        assert_eq!(held.len(), 2);
        held.record(&id(1), 2, false);
        assert!(!held.holds(&id(1)), "removals still apply");
        held.seed(&[snapshot(4, 1)]);
        assert!(held.is_complete(), "a bootstrap that fits makes it complete again");
        held.seed(&[snapshot(5, 1), snapshot(6, 1), snapshot(7, 1)]);
        assert!(!held.is_complete());
    }

    #[test]
    fn disabled_it_records_nothing() {
        let mut held = HeldTasks::new(false, 10);
        held.seed(&[snapshot(1, 1)]);
        held.record(&id(2), 1, true);
        assert_eq!(held.len(), 0);
    }
}
