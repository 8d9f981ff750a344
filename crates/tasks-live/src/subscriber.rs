//! [`Subscriber`]: one subscription inside the hub: its filter, its listener, its mirror of
//! what its tracker holds ([`HeldTasks`]), and its two phases, buffering while its bootstrap
//! (or resume replay) is read, then live.
//!
//! # Which updates a subscriber is sent
//!
//! Updates come per task ([`TaskUpdates`]: its events, each carrying its current snapshot).
//! A subscriber is sent them when the task's fixed fields (ids, kinds, channels, keys) match
//! its filter and
//! - the snapshot matches its whole filter (the tracker keeps it), or
//! - its tracker holds the task (the snapshot tells it that the task left), or
//! - the subscriber resumed from a cursor and has had no bootstrap since: its tracker may hold
//!   any task (see [`HeldTasks`]), or
//! - the mirror is incomplete (past its capacity) and the task passed the filter in the state
//!   the hub last sent it in, or the hub knows nothing of it: the subscriber may hold it.
//!
//! While a subscriber buffers, what its tracker will hold is not known (its bootstrap is being
//! read), so every update whose fixed fields match is kept with what the decision needs, and
//! decided in order once the bootstrap is known ([`Subscriber::go_live`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use tasks_core::{ChangeCursor, SubscriptionQuery, TaskId, TaskLiveMessage, TaskSnapshot};

use crate::filter::SubscriberFilter;
use crate::held::HeldTasks;
use crate::known::Known;
use crate::update::LiveUpdate;

/// A subscriber's callback.
pub(crate) type Listener = Arc<dyn Fn(&LiveUpdate) + Send + Sync>;

/// Updates about one task, with what the hub knew of it before them.
pub(crate) struct TaskUpdates {
    pub(crate) snapshot: TaskSnapshot,
    pub(crate) previous: Option<Known>,
    pub(crate) updates: Vec<LiveUpdate>,
}

/// What [`Subscriber::go_live`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum GoLive {
    /// The subscriber is live.
    Done,
    /// Its buffer overflowed during the read: read the bootstrap again.
    Overflowed,
    /// It was dropped meanwhile.
    Gone,
}

/// A task's updates held back while the bootstrap is read, with what deciding them needs.
struct Pending {
    task_id: TaskId,
    revision: u64,
    matches: bool,
    matched_before: bool,
    updates: Vec<LiveUpdate>,
}

/// One subscriber. See the module docs.
pub(crate) struct Subscriber {
    query: SubscriptionQuery,
    filter: SubscriberFilter,
    listener: Listener,
    held: HeldTasks,
    /// `Some` while the bootstrap is read: what arrived meanwhile.
    buffer: Option<Vec<Pending>>,
    /// How many updates `buffer` holds.
    buffered: usize,
    buffer_cap: usize,
    /// The buffer overflowed: the bootstrap must be read again.
    overflowed: bool,
    /// Everything up to this feed position was delivered (or was in the bootstrap).
    cursor: Option<ChangeCursor>,
}

impl Subscriber {
    /// A subscriber to a normalized `query`, buffering until its bootstrap is read.
    /// `held_capacity` is how many tasks beyond its bootstrap's size its mirror records.
    pub(crate) fn new(
        query: SubscriptionQuery,
        listener: Listener,
        buffer_cap: usize,
        held_capacity: usize,
    ) -> Self {
        let filter = SubscriberFilter::new(&query.filter);
        let bootstrap_size = query.limit.unwrap_or(tasks_core::limits::DEFAULT_PAGE_LIMIT) as usize;
        let held =
            HeldTasks::new(filter.has_moving_part(), bootstrap_size.saturating_add(held_capacity));
        Subscriber {
            query,
            filter,
            listener,
            held,
            buffer: Some(Vec::new()),
            buffered: 0,
            buffer_cap: buffer_cap.max(1),
            overflowed: false,
            cursor: None,
        }
    }

    pub(crate) fn query(&self) -> &SubscriptionQuery {
        &self.query
    }

    pub(crate) fn filter(&self) -> &SubscriberFilter {
        &self.filter
    }

    /// The resume position: every change up to it was delivered.
    pub(crate) fn cursor(&self) -> Option<&ChangeCursor> {
        self.cursor.as_ref()
    }

    /// Puts a live subscriber back into its buffering phase (a fresh bootstrap is to be read);
    /// `false` when it is buffering already (a bootstrap is on its way).
    pub(crate) fn restart(&mut self) -> bool {
        if self.buffer.is_some() {
            return false;
        }
        self.buffer = Some(Vec::new());
        self.buffered = 0;
        true
    }

    /// Whether updates about a task concern this subscriber; see the module docs.
    fn wants(&self, id: &TaskId, matches: bool, matched_before: bool) -> bool {
        matches || self.held.holds(id) || self.held.may_hold_unrecorded(matched_before)
    }

    /// Takes a batch of updates, in feed order: sends those it wants (or holds them back
    /// while buffering). The last one sent carries `cursor`, which becomes the subscriber's
    /// resume position either way.
    pub(crate) fn offer(&mut self, batch: &[TaskUpdates], cursor: Option<&ChangeCursor>) {
        let held_back = self.buffer.as_ref().map(Vec::len);
        let mut sent: Vec<&LiveUpdate> = Vec::new();
        for task in batch {
            if task.updates.is_empty() || !self.filter.fixed_matches(&task.snapshot) {
                continue;
            }
            let id = &task.snapshot.task_id;
            let matches = self.filter.matches(&task.snapshot);
            let matched_before = self.filter.matched_before(task.previous);
            if self.buffer.is_some() {
                self.hold_back(Pending {
                    task_id: id.clone(),
                    revision: task.snapshot.revision,
                    matches,
                    matched_before,
                    updates: task.updates.clone(),
                });
            } else if self.wants(id, matches, matched_before) {
                self.held.record(id, task.snapshot.revision, matches);
                sent.extend(task.updates.iter());
            }
        }
        if let Some(cursor) = cursor {
            self.cursor = Some(cursor.clone());
            match (&mut self.buffer, held_back) {
                // Only when this batch added to the buffer (an overflow empties it).
                (Some(buffer), Some(before)) if buffer.len() > before => {
                    if let Some(last) = buffer.last_mut().and_then(|task| task.updates.last_mut()) {
                        *last = last.with_cursor(Some(cursor.clone()));
                    }
                }
                _ => {}
            }
        }
        let count = sent.len();
        for (n, update) in sent.into_iter().enumerate() {
            match cursor {
                Some(cursor) if n + 1 == count => {
                    call(&self.listener, &update.with_cursor(Some(cursor.clone())));
                }
                _ => call(&self.listener, update),
            }
        }
    }

    fn hold_back(&mut self, pending: Pending) {
        let Some(buffer) = &mut self.buffer else { return };
        if self.overflowed {
            // The bootstrap is read again anyway: what comes meanwhile is in it.
            return;
        }
        if self.buffered + pending.updates.len() > self.buffer_cap {
            buffer.clear();
            self.buffered = 0;
            self.overflowed = true;
            return;
        }
        self.buffered += pending.updates.len();
        buffer.push(pending);
    }

    /// Ends the buffering phase: `first` (the bootstrap, or a resume's replay), then what was
    /// held back meanwhile, decided now that the bootstrap is known. `cursor` is the position
    /// `first` leaves the subscriber at.
    pub(crate) fn go_live(
        &mut self,
        first: Vec<LiveUpdate>,
        cursor: Option<ChangeCursor>,
    ) -> GoLive {
        if std::mem::take(&mut self.overflowed) {
            self.buffer = Some(Vec::new());
            self.buffered = 0;
            return GoLive::Overflowed;
        }
        let pending = self.buffer.take().unwrap_or_default();
        self.buffered = 0;
        // A page delivered during the read is a valid resume position too (see the hub docs);
        // keep the later of the two when both exist: the page's.
        self.cursor = self.cursor.take().or(cursor);
        if !first.iter().any(LiveUpdate::is_bootstrap) {
            self.held.resumed();
        }
        for update in &first {
            self.note(update);
            call(&self.listener, update);
        }
        // A held-back update not sent may have carried its batch's cursor: the next update
        // sent carries it instead (everything up to it was delivered by then).
        let mut carried: Option<ChangeCursor> = None;
        for task in pending {
            if !self.wants(&task.task_id, task.matches, task.matched_before) {
                if let Some(cursor) = task.updates.last().and_then(LiveUpdate::cursor) {
                    carried = Some(cursor.clone());
                }
                continue;
            }
            self.held.record(&task.task_id, task.revision, task.matches);
            for update in &task.updates {
                match (carried.take(), update.cursor()) {
                    (Some(earlier), None) => {
                        call(&self.listener, &update.with_cursor(Some(earlier)))
                    }
                    _ => call(&self.listener, update),
                }
            }
        }
        GoLive::Done
    }

    /// Records what a bootstrap or replayed event makes the tracker hold.
    fn note(&mut self, update: &LiveUpdate) {
        match update.message() {
            TaskLiveMessage::Bootstrap(bootstrap) => self.held.seed(&bootstrap.snapshots),
            TaskLiveMessage::Event { event, .. } => {
                if let Some(snapshot) = &event.snapshot {
                    let matches = self.filter.matches(snapshot);
                    self.held.record(&snapshot.task_id, snapshot.revision, matches);
                }
            }
        }
    }
}

/// Calls a listener; a panicking listener loses this update, not its subscription, and never
/// poisons the hub.
fn call(listener: &Listener, update: &LiveUpdate) {
    let _ = catch_unwind(AssertUnwindSafe(|| listener(update)));
}
