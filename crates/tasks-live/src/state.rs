//! [`HubState`]: the hub's subscribers and its memory of what it sent ([`KnownTasks`]), behind
//! one lock, and the delivery rules.
//!
//! Every update goes through [`HubState::deliver`] under that lock, whichever path brought it
//! (in-process event, change feed), so a subscriber hears about each task in revision order
//! and each revision once. A subscriber whose bootstrap is being read buffers what arrives
//! meanwhile; [`HubState::go_live`] hands it the bootstrap, then the buffer, atomically.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use tasks_core::{
    ChangeCursor, SubscriptionQuery, TaskLifecycleEvent, TaskLiveMessage, TaskSnapshot, Timestamp,
};

use crate::filter::SubscriberFilter;
use crate::known::{Known, KnownTasks};
use crate::update::LiveUpdate;

/// A subscriber's callback.
pub(crate) type Listener = Arc<dyn Fn(&LiveUpdate) + Send + Sync>;

/// One subscriber.
pub(crate) struct Subscriber {
    query: SubscriptionQuery,
    filter: SubscriberFilter,
    listener: Listener,
    /// `Some` while the bootstrap is read: what arrived meanwhile.
    buffer: Option<Vec<LiveUpdate>>,
    buffer_cap: usize,
    /// The buffer overflowed: the bootstrap must be read again.
    overflowed: bool,
    /// Everything up to this feed position was delivered (or was in the bootstrap).
    cursor: Option<ChangeCursor>,
}

impl Subscriber {
    fn push(&mut self, update: LiveUpdate) {
        match &mut self.buffer {
            None => call(&self.listener, &update),
            Some(buffer) if buffer.len() >= self.buffer_cap => {
                buffer.clear();
                self.overflowed = true;
            }
            Some(buffer) => buffer.push(update),
        }
    }
}

/// Calls a listener; a panicking listener loses this update, not its subscription, and never
/// poisons the hub.
fn call(listener: &Listener, update: &LiveUpdate) {
    let _ = catch_unwind(AssertUnwindSafe(|| listener(update)));
}

/// Updates about one task, with what was known of it before them.
pub(crate) struct TaskUpdates {
    pub(crate) snapshot: TaskSnapshot,
    pub(crate) previous: Option<Known>,
    pub(crate) updates: Vec<LiveUpdate>,
}

/// What [`HubState::go_live`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum GoLive {
    /// The subscriber is live.
    Done,
    /// Its buffer overflowed during the read: read the bootstrap again.
    Overflowed,
    /// It was dropped meanwhile.
    Gone,
}

/// The hub's mutable state.
pub(crate) struct HubState {
    pub(crate) known: KnownTasks,
    subscribers: BTreeMap<u64, Subscriber>,
    next_id: u64,
}

impl HubState {
    pub(crate) fn new(known_capacity: usize) -> Self {
        HubState {
            known: KnownTasks::new(known_capacity),
            subscribers: BTreeMap::new(),
            next_id: 0,
        }
    }

    /// Adds a subscriber (with its normalized query) in its buffering phase.
    pub(crate) fn add(&mut self, query: SubscriptionQuery, listener: Listener, cap: usize) -> u64 {
        self.next_id += 1;
        let subscriber = Subscriber {
            filter: SubscriberFilter::new(&query.filter),
            query,
            listener,
            buffer: Some(Vec::new()),
            buffer_cap: cap,
            overflowed: false,
            cursor: None,
        };
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
        self.subscribers.get(&id).and_then(|subscriber| subscriber.cursor.clone())
    }

    /// Puts every live subscriber back into its buffering phase (their bootstraps are read
    /// again); returns their ids and queries.
    pub(crate) fn restart_all(&mut self) -> Vec<(u64, SubscriptionQuery)> {
        let mut restarted = Vec::new();
        for (id, subscriber) in &mut self.subscribers {
            if subscriber.buffer.is_none() {
                subscriber.buffer = Some(Vec::new());
                restarted.push((*id, subscriber.query.clone()));
            }
        }
        restarted
    }

    /// The fixed part of a subscriber's filter, for replays.
    pub(crate) fn filter(&self, id: u64) -> Option<SubscriberFilter> {
        self.subscribers.get(&id).map(|subscriber| subscriber.filter.clone())
    }

    /// Sends a batch of updates: each subscriber gets those it wants, in order; the last one it
    /// gets carries `cursor`, which becomes every subscriber's resume position.
    pub(crate) fn deliver(&mut self, batch: &[TaskUpdates], cursor: Option<&ChangeCursor>) {
        for subscriber in self.subscribers.values_mut() {
            let filter = &subscriber.filter;
            let wanted: Vec<&LiveUpdate> = batch
                .iter()
                .filter(|task| filter.wants(&task.snapshot, task.previous))
                .flat_map(|task| task.updates.iter())
                .collect();
            let mut wanted = wanted.into_iter().peekable();
            while let Some(update) = wanted.next() {
                let last = wanted.peek().is_none();
                let update = match cursor {
                    Some(cursor) if last => update.with_cursor(Some(cursor.clone())),
                    _ => update.clone(),
                };
                subscriber.push(update);
            }
            if let Some(cursor) = cursor {
                subscriber.cursor = Some(cursor.clone());
            }
        }
    }

    /// Ends a subscriber's buffering phase: `first` (its bootstrap or resume replay), then what
    /// it buffered meanwhile. `cursor` is the position `first` leaves it at.
    pub(crate) fn go_live(
        &mut self,
        id: u64,
        first: Vec<LiveUpdate>,
        cursor: Option<ChangeCursor>,
    ) -> GoLive {
        let Some(subscriber) = self.subscribers.get_mut(&id) else { return GoLive::Gone };
        if std::mem::take(&mut subscriber.overflowed) {
            subscriber.buffer = Some(Vec::new());
            return GoLive::Overflowed;
        }
        let buffered = subscriber.buffer.take().unwrap_or_default();
        // A page delivered during the read is a valid resume position too (see the hub docs);
        // keep the later of the two when both exist: the page's.
        subscriber.cursor = subscriber.cursor.take().or(cursor);
        for update in first.iter().chain(buffered.iter()) {
            call(&subscriber.listener, update);
        }
        GoLive::Done
    }

    /// An in-process lifecycle event: sent on when it is newer than what was sent (a higher
    /// revision, or a step not sent yet).
    pub(crate) fn host_event(&mut self, event: &TaskLifecycleEvent, now: Timestamp) {
        let Some(snapshot) = &event.snapshot else { return };
        let previous = self.known.get(&snapshot.task_id);
        let newer = previous.is_none_or(|known| snapshot.revision > known.revision);
        let step_seq = event.step.as_ref().map(|step| step.seq);
        let new_step =
            step_seq.is_some_and(|seq| previous.is_none_or(|known| seq > known.last_seq));
        if !newer && !new_step {
            return;
        }
        let mut known = match previous {
            Some(known) if !newer => known,
            _ => Known::of(snapshot, previous.map_or(0, |known| known.last_seq)),
        };
        if let Some(seq) = step_seq {
            known.last_seq = known.last_seq.max(seq);
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
