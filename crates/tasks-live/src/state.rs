//! [`HubState`]: the hub's subscribers ([`Subscriber`]) and its memory of what it sent
//! ([`KnownTasks`]), behind one lock.
//!
//! Every update goes through [`HubState::deliver`] under that lock, whichever path brought it
//! (in-process event, change feed), so a subscriber hears about each task in revision order
//! and each revision once. A subscriber whose bootstrap is being read holds back what arrives
//! meanwhile; [`HubState::go_live`] hands it the bootstrap, then what it held back,
//! atomically.

use std::collections::BTreeMap;

use tasks_core::{
    ChangeCursor, LifecycleEventName, SubscriptionQuery, TaskLifecycleEvent, TaskLiveMessage,
    Timestamp,
};

use crate::filter::SubscriberFilter;
use crate::known::{Known, KnownTasks, preview_print};
use crate::subscriber::{GoLive, Listener, Subscriber, TaskUpdates};
use crate::update::LiveUpdate;

/// The hub's mutable state.
pub(crate) struct HubState {
    pub(crate) known: KnownTasks,
    subscribers: BTreeMap<u64, Subscriber>,
    next_id: u64,
    /// Tasks each subscriber's mirror records beyond its bootstrap's size.
    held_capacity: usize,
}

impl HubState {
    pub(crate) fn new(known_capacity: usize, held_capacity: usize) -> Self {
        HubState {
            known: KnownTasks::new(known_capacity),
            subscribers: BTreeMap::new(),
            next_id: 0,
            held_capacity,
        }
    }

    /// Adds a subscriber (with its normalized query) in its buffering phase.
    pub(crate) fn add(&mut self, query: SubscriptionQuery, listener: Listener, cap: usize) -> u64 {
        self.next_id += 1;
        let subscriber = Subscriber::new(query, listener, cap, self.held_capacity);
        self.subscribers.insert(self.next_id, subscriber);
        self.next_id
    }

    pub(crate) fn remove(&mut self, id: u64) {
        self.subscribers.remove(&id);
    }

    pub(crate) fn contains(&self, id: u64) -> bool {
        self.subscribers.contains_key(&id)
    }

    pub(crate) fn subscriber_count(&self) -> usize {
        self.subscribers.len()
    }

    /// The resume position of a subscriber.
    pub(crate) fn cursor(&self, id: u64) -> Option<ChangeCursor> {
        self.subscribers.get(&id).and_then(|subscriber| subscriber.cursor().cloned())
    }

    /// Puts every live subscriber back into its buffering phase (their bootstraps are read
    /// again); returns their ids and queries.
    pub(crate) fn restart_all(&mut self) -> Vec<(u64, SubscriptionQuery)> {
        self.subscribers
            .iter_mut()
            .filter_map(|(id, subscriber)| {
                subscriber.restart().then(|| (*id, subscriber.query().clone()))
            })
            .collect()
    }

    /// Puts one live subscriber back into its buffering phase; its query when it was live
    /// (`None`: gone, or already waiting for a bootstrap).
    #[cfg(any(feature = "http", test))]
    pub(crate) fn restart(&mut self, id: u64) -> Option<SubscriptionQuery> {
        let subscriber = self.subscribers.get_mut(&id)?;
        subscriber.restart().then(|| subscriber.query().clone())
    }

    /// A subscriber's filter, for replays.
    pub(crate) fn filter(&self, id: u64) -> Option<SubscriberFilter> {
        self.subscribers.get(&id).map(|subscriber| subscriber.filter().clone())
    }

    /// Sends a batch of updates: each subscriber gets those that concern it, in order; the
    /// last one it gets carries `cursor`, which becomes every subscriber's resume position.
    pub(crate) fn deliver(&mut self, batch: &[TaskUpdates], cursor: Option<&ChangeCursor>) {
        for subscriber in self.subscribers.values_mut() {
            subscriber.offer(batch, cursor);
        }
    }

    /// Ends a subscriber's buffering phase: `first` (its bootstrap or resume replay), then what
    /// it held back meanwhile. `cursor` is the position `first` leaves it at.
    pub(crate) fn go_live(
        &mut self,
        id: u64,
        first: Vec<LiveUpdate>,
        cursor: Option<ChangeCursor>,
    ) -> GoLive {
        match self.subscribers.get_mut(&id) {
            None => GoLive::Gone,
            Some(subscriber) => subscriber.go_live(first, cursor),
        }
    }

    /// An in-process lifecycle event: sent on when it is newer than what was sent (a higher
    /// revision, a step not sent yet, or a progress preview not sent yet).
    ///
    /// A host tells progress at once, as a preview carrying the revision of its last write
    /// (the coalesced write that follows raises it), so a progress event at the revision
    /// already sent is news, unless it is the very preview sent last. It leaves the known
    /// revision as it is: the write's own change must still go out.
    pub(crate) fn host_event(&mut self, event: &TaskLifecycleEvent, now: Timestamp) {
        let Some(snapshot) = &event.snapshot else { return };
        let previous = self.known.get(&snapshot.task_id);
        let newer = previous.is_none_or(|known| snapshot.revision > known.revision);
        let step_seq = event.step.as_ref().map(|step| step.seq);
        let new_step =
            step_seq.is_some_and(|seq| previous.is_none_or(|known| seq > known.last_seq));
        let print = (event.event == LifecycleEventName::Progress).then(|| preview_print(snapshot));
        let new_preview = print.is_some()
            && previous
                .is_some_and(|known| snapshot.revision == known.revision && known.preview != print);
        if !newer && !new_step && !new_preview {
            return;
        }
        let mut known = match previous {
            Some(known) if !newer => known,
            _ => Known::of(snapshot, previous.map_or(0, |known| known.last_seq)),
        };
        if let Some(seq) = step_seq {
            known.last_seq = known.last_seq.max(seq);
        }
        if print.is_some() {
            known.preview = print;
        }
        self.known.set(&snapshot.task_id, known);
        let message = TaskLiveMessage::Event { event: event.clone(), timestamp: now };
        let batch = TaskUpdates {
            snapshot: snapshot.clone(),
            previous,
            updates: vec![LiveUpdate::new(message, None)],
        };
        self.deliver(std::slice::from_ref(&batch), None);
    }
}

#[cfg(test)]
mod tests;
