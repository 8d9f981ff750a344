//! [`TaskLiveTracker`]: the client-side state of a live subscription.
//!
//! Rules (the spec's tracker, made regression-proof):
//! - a bootstrap replaces the set of tasks, except that a snapshot already held with a higher
//!   revision is kept (an event can overtake a slow bootstrap read);
//! - an event's snapshot replaces the held one only when its revision is higher (or, for a
//!   `progress` event, equal: a host reports progress at once and writes it coalesced, so the
//!   event carries the revision of the last write); a task that no longer passes the
//!   subscription's filter is dropped;
//! - steps accumulate per task by `seq`; a step already held is ignored; at most
//!   `max_steps_per_task` of the most recent are kept;
//! - the aggregate is recomputed from the held snapshots after every change;
//! - listeners are told after every message that changed something.

use std::collections::BTreeMap;

use tasks_core::{
    ChangeCursor, LifecycleEventName, StepRecord, SubscriptionQuery, TaskAggregate, TaskId,
    TaskLiveMessage, TaskSnapshot, TaskSubscriptionBootstrap,
};

/// Steps kept per task unless configured otherwise.
pub const DEFAULT_MAX_STEPS_PER_TASK: usize = 1000;

/// What a tracker holds, as handed to listeners and returned by [`TaskLiveTracker::state`].
#[derive(Clone, PartialEq, Debug, Default)]
pub struct TrackerState {
    /// The tasks, newest first (by creation, then id).
    pub snapshots: Vec<TaskSnapshot>,
    /// Steps per task id, in `seq` order.
    pub steps: BTreeMap<String, Vec<StepRecord>>,
    /// Counts over the held snapshots.
    pub aggregate: TaskAggregate,
}

type Listener = Box<dyn Fn(&TrackerState) + Send>;

/// The client-side state of one live subscription. See the module docs for its rules.
pub struct TaskLiveTracker {
    query: Option<SubscriptionQuery>,
    snapshots: BTreeMap<TaskId, TaskSnapshot>,
    steps: BTreeMap<TaskId, BTreeMap<u64, StepRecord>>,
    cursor: Option<ChangeCursor>,
    max_steps_per_task: usize,
    listeners: Vec<(u64, Listener)>,
    next_listener: u64,
}

impl Default for TaskLiveTracker {
    fn default() -> Self {
        TaskLiveTracker::new()
    }
}

impl std::fmt::Debug for TaskLiveTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskLiveTracker")
            .field("tasks", &self.snapshots.len())
            .field("listeners", &self.listeners.len())
            .finish_non_exhaustive()
    }
}

/// A handle naming a listener, to remove it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ListenerId(u64);

impl TaskLiveTracker {
    /// An empty tracker keeping up to [`DEFAULT_MAX_STEPS_PER_TASK`] steps per task.
    pub fn new() -> Self {
        TaskLiveTracker {
            query: None,
            snapshots: BTreeMap::new(),
            steps: BTreeMap::new(),
            cursor: None,
            max_steps_per_task: DEFAULT_MAX_STEPS_PER_TASK,
            listeners: Vec::new(),
            next_listener: 0,
        }
    }

    /// The same tracker keeping at most `max` steps per task (at least 1).
    #[must_use]
    pub fn with_max_steps_per_task(mut self, max: usize) -> Self {
        self.max_steps_per_task = max.max(1);
        self
    }

    /// Applies a live message; returns whether anything changed (listeners are told if so).
    pub fn apply(&mut self, message: &TaskLiveMessage) -> bool {
        let changed = match message {
            TaskLiveMessage::Bootstrap(bootstrap) => self.apply_bootstrap(bootstrap),
            TaskLiveMessage::Event { event, .. } => {
                let mut changed = false;
                if let Some(snapshot) = &event.snapshot {
                    // A host reports progress at once but writes it coalesced, so an
                    // in-process progress event carries the revision of the last write; it is
                    // still newer than what we hold at that revision.
                    let equal_is_newer = event.event == LifecycleEventName::Progress;
                    changed |= self.apply_snapshot(snapshot, equal_is_newer);
                }
                if let Some(step) = &event.step {
                    changed |= self.add_step(step);
                }
                changed
            }
        };
        if changed {
            self.notify();
        }
        changed
    }

    fn apply_bootstrap(&mut self, bootstrap: &TaskSubscriptionBootstrap) -> bool {
        let before = self.state();
        let mut snapshots = BTreeMap::new();
        for snapshot in &bootstrap.snapshots {
            let newest = match self.snapshots.get(&snapshot.task_id) {
                Some(held) if held.revision > snapshot.revision => held.clone(),
                _ => snapshot.clone(),
            };
            snapshots.insert(snapshot.task_id.clone(), newest);
        }
        self.snapshots = snapshots;
        self.steps.retain(|id, _| self.snapshots.contains_key(id));
        self.query = Some(bootstrap.query.clone());
        self.cursor = bootstrap.cursor.clone().or(self.cursor.take());
        for steps in bootstrap.steps.values() {
            for step in steps {
                self.add_step(step);
            }
        }
        self.state() != before
    }

    fn apply_snapshot(&mut self, snapshot: &TaskSnapshot, equal_is_newer: bool) -> bool {
        let wanted =
            self.query.as_ref().is_none_or(|query| query.filter.matches_snapshot(snapshot));
        match self.snapshots.get(&snapshot.task_id) {
            Some(held) if held.revision > snapshot.revision => false,
            Some(held)
                if held.revision == snapshot.revision
                    && (!equal_is_newer || *held == *snapshot) =>
            {
                false
            }
            Some(_) if !wanted => {
                self.snapshots.remove(&snapshot.task_id);
                self.steps.remove(&snapshot.task_id);
                true
            }
            None if !wanted => false,
            _ => {
                self.snapshots.insert(snapshot.task_id.clone(), snapshot.clone());
                true
            }
        }
    }

    fn add_step(&mut self, step: &StepRecord) -> bool {
        if !self.snapshots.contains_key(&step.task_id) {
            return false;
        }
        let steps = self.steps.entry(step.task_id.clone()).or_default();
        if steps.contains_key(&step.seq) {
            return false;
        }
        if steps.len() >= self.max_steps_per_task
            && steps.keys().next().is_some_and(|oldest| *oldest > step.seq)
        {
            // Older than everything kept while full: it would be trimmed at once.
            return false;
        }
        steps.insert(step.seq, step.clone());
        while steps.len() > self.max_steps_per_task {
            steps.pop_first();
        }
        true
    }

    /// What the tracker holds now.
    pub fn state(&self) -> TrackerState {
        let mut snapshots: Vec<TaskSnapshot> = self.snapshots.values().cloned().collect();
        snapshots.sort_by(|a, b| (b.created_at, &b.task_id).cmp(&(a.created_at, &a.task_id)));
        TrackerState {
            aggregate: TaskAggregate::from_snapshots(&snapshots),
            snapshots,
            steps: self
                .steps
                .iter()
                .map(|(id, steps)| (id.to_string(), steps.values().cloned().collect()))
                .collect(),
        }
    }

    /// Every snapshot held, in id order, without copying them (see [`Self::state`] for an
    /// owned, ordered copy with the aggregate).
    pub fn snapshots(&self) -> impl Iterator<Item = &TaskSnapshot> {
        self.snapshots.values()
    }

    /// The snapshot held for one task.
    pub fn snapshot(&self, id: &TaskId) -> Option<&TaskSnapshot> {
        self.snapshots.get(id)
    }

    /// The change-feed cursor of the last bootstrap, for resuming after a reconnect.
    pub fn cursor(&self) -> Option<&ChangeCursor> {
        self.cursor.as_ref()
    }

    /// Registers a listener told after every change.
    pub fn on_change(&mut self, listener: impl Fn(&TrackerState) + Send + 'static) -> ListenerId {
        self.next_listener += 1;
        self.listeners.push((self.next_listener, Box::new(listener)));
        ListenerId(self.next_listener)
    }

    /// Removes a listener; returns whether it was registered.
    pub fn remove_listener(&mut self, id: ListenerId) -> bool {
        let before = self.listeners.len();
        self.listeners.retain(|(key, _)| *key != id.0);
        self.listeners.len() != before
    }

    fn notify(&self) {
        if self.listeners.is_empty() {
            return;
        }
        let state = self.state();
        for (_, listener) in &self.listeners {
            listener(&state);
        }
    }
}
