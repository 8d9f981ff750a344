//! [`Outbox`]: one connection's bounded queue between the hub (which never waits) and the
//! socket (which waits for the client).
//!
//! When the queue is full the client is too slow: with [`SlowClient::Resync`] the queue is
//! emptied and the connection sends a fresh bootstrap next (read after the overflow, so it
//! covers every update dropped); with [`SlowClient::Disconnect`] the connection is closed.
//! Either way a connection never holds more than its bound, whatever the client does.
//!
//! Two rules keep a resync safe and paced:
//! - From the overflow until the fresh bootstrap arrives, other updates are dropped, not
//!   queued: they are older than the bootstrap's read, and one sent ahead of it would hand
//!   the client a cursor past the updates the overflow dropped (a client that disconnected
//!   then would resume past them).
//! - A bootstrap not sent yet survives an overflow, and goes before the resync it triggers:
//!   its cursor precedes every update dropped, and sending it to the slow client is what
//!   paces a client that overflows every time (otherwise the connection would read bootstrap
//!   after bootstrap and send none).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::update::LiveUpdate;

/// What a connection does with a client that cannot keep up.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub enum SlowClient {
    /// Drop what is queued and send a fresh bootstrap instead (the default).
    #[default]
    Resync,
    /// Close the connection (the client reconnects, resuming from its last cursor).
    Disconnect,
}

/// Counters over every connection of a bridge.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) open: AtomicUsize,
    pub(crate) resyncs: AtomicU64,
    pub(crate) disconnects: AtomicU64,
    pub(crate) max_queued: AtomicUsize,
}

/// A snapshot of a bridge's counters.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub struct BridgeStats {
    /// Connections open now.
    pub open_connections: usize,
    /// Resyncs sent to slow clients so far.
    pub resyncs: u64,
    /// Slow clients disconnected so far.
    pub disconnects: u64,
    /// The most messages any connection ever held queued.
    pub max_queued: usize,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> BridgeStats {
        BridgeStats {
            open_connections: self.open.load(Ordering::SeqCst),
            resyncs: self.resyncs.load(Ordering::SeqCst),
            disconnects: self.disconnects.load(Ordering::SeqCst),
            max_queued: self.max_queued.load(Ordering::SeqCst),
        }
    }
}

#[derive(Default)]
struct Queue {
    items: VecDeque<LiveUpdate>,
    resync: bool,
    /// Overflowed: drop updates until the fresh bootstrap arrives (see the module docs).
    awaiting_bootstrap: bool,
    closed: bool,
    /// Closed because the client was too slow (not by its owner).
    too_slow: bool,
}

/// What a connection sends next.
pub(crate) enum Next {
    /// This update.
    Update(LiveUpdate),
    /// A fresh bootstrap (the queue overflowed).
    Resync,
    /// The client is too slow (disconnect policy): close it.
    TooSlow,
    /// Nothing more: the connection ended.
    Closed,
}

/// One connection's queue. See the module docs.
pub(crate) struct Outbox {
    queue: Mutex<Queue>,
    ready: Notify,
    closed: Notify,
    capacity: usize,
    policy: SlowClient,
    counters: Arc<Counters>,
}

impl Outbox {
    pub(crate) fn new(capacity: usize, policy: SlowClient, counters: Arc<Counters>) -> Self {
        counters.open.fetch_add(1, Ordering::SeqCst);
        Outbox {
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            closed: Notify::new(),
            capacity: capacity.max(1),
            policy,
            counters,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues an update (from the hub's delivery path: never waits).
    pub(crate) fn push(&self, update: &LiveUpdate) {
        {
            let mut queue = self.lock();
            if queue.closed {
                return;
            }
            if queue.awaiting_bootstrap {
                if !update.is_bootstrap() {
                    // The bootstrap on its way covers it.
                    return;
                }
                queue.awaiting_bootstrap = false;
                queue.items.clear();
                queue.items.push_back(update.clone());
            } else if queue.items.len() >= self.capacity {
                let unsent_bootstrap = match queue.items.front() {
                    Some(front) if front.is_bootstrap() => queue.items.pop_front(),
                    _ => None,
                };
                queue.items.clear();
                match self.policy {
                    SlowClient::Resync => {
                        queue.items.extend(unsent_bootstrap);
                        queue.awaiting_bootstrap = true;
                        if !std::mem::replace(&mut queue.resync, true) {
                            self.counters.resyncs.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    SlowClient::Disconnect => {
                        queue.closed = true;
                        queue.too_slow = true;
                        self.counters.disconnects.fetch_add(1, Ordering::SeqCst);
                        drop(queue);
                        self.closed.notify_waiters();
                        self.ready.notify_one();
                        return;
                    }
                }
            } else {
                queue.items.push_back(update.clone());
                self.counters.max_queued.fetch_max(queue.items.len(), Ordering::SeqCst);
            }
        }
        self.ready.notify_one();
    }

    /// Closes the outbox (the connection ends).
    pub(crate) fn close(&self) {
        let mut queue = self.lock();
        queue.closed = true;
        queue.items.clear();
        drop(queue);
        self.closed.notify_waiters();
        self.ready.notify_one();
    }

    /// The next thing to send, waiting for one.
    pub(crate) async fn next(&self) -> Next {
        loop {
            {
                let mut queue = self.lock();
                if queue.closed {
                    return if queue.too_slow { Next::TooSlow } else { Next::Closed };
                }
                // A bootstrap kept across an overflow goes before the resync (module docs).
                if queue.items.front().is_some_and(LiveUpdate::is_bootstrap)
                    && let Some(bootstrap) = queue.items.pop_front()
                {
                    return Next::Update(bootstrap);
                }
                if std::mem::take(&mut queue.resync) {
                    return Next::Resync;
                }
                if let Some(update) = queue.items.pop_front() {
                    return Next::Update(update);
                }
            }
            // `notify_one` keeps a permit when nobody waits, so a push between the check and
            // here is not lost.
            self.ready.notified().await;
        }
    }

    /// Resolves once the outbox is closed (to abandon a send a stuck client blocks).
    pub(crate) async fn wait_closed(&self) {
        loop {
            let notified = self.closed.notified();
            if self.lock().closed {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.counters.open.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tasks_core::{
        ChangeCursor, LifecycleEventName, NewTask, SubscriptionQuery, TaskLifecycleEvent,
        TaskLiveMessage, TaskSnapshot, TaskSubscriptionBootstrap, Timestamp,
    };

    use super::*;

    const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

    fn event(cursor: &str) -> LiveUpdate {
        let record = NewTask::new("report", json!({})).into_record(T0).expect("valid task");
        let event = TaskLifecycleEvent::of(
            LifecycleEventName::Enqueued,
            TaskSnapshot::from_record(&record),
            T0,
        );
        let message = TaskLiveMessage::Event { event, timestamp: T0 };
        LiveUpdate::new(message, Some(ChangeCursor::new(cursor)))
    }

    fn bootstrap(cursor: &str) -> LiveUpdate {
        let bootstrap = TaskSubscriptionBootstrap {
            query: SubscriptionQuery::default(),
            snapshots: Vec::new(),
            steps: Default::default(),
            aggregate: None,
            cursor: Some(ChangeCursor::new(cursor)),
            timestamp: T0,
        };
        LiveUpdate::new(TaskLiveMessage::Bootstrap(bootstrap), Some(ChangeCursor::new(cursor)))
    }

    /// What `next` gives, as text: the update's cursor, or the resync.
    async fn next(outbox: &Outbox) -> String {
        match outbox.next().await {
            Next::Update(update) => {
                let kind = if update.is_bootstrap() { "bootstrap" } else { "event" };
                format!("{kind} {}", update.cursor().map_or("-", ChangeCursor::as_str))
            }
            Next::Resync => "resync".to_owned(),
            Next::TooSlow => "too slow".to_owned(),
            Next::Closed => "closed".to_owned(),
        }
    }

    fn outbox(capacity: usize) -> Outbox {
        Outbox::new(capacity, SlowClient::Resync, Arc::default())
    }

    #[tokio::test]
    async fn updates_between_an_overflow_and_its_bootstrap_are_dropped() {
        let outbox = outbox(2);
        for cursor in ["c1", "c2", "c3"] {
            outbox.push(&event(cursor));
        }
        // c3 overflowed the queue; c4 comes before the fresh bootstrap is read: sent first,
        // its cursor would let a client that disconnects skip c1..c3.
        outbox.push(&event("c4"));
        assert_eq!(next(&outbox).await, "resync");
        outbox.push(&bootstrap("c5"));
        outbox.push(&event("c6"));
        assert_eq!(next(&outbox).await, "bootstrap c5");
        assert_eq!(next(&outbox).await, "event c6");
    }

    #[tokio::test]
    async fn an_unsent_bootstrap_survives_an_overflow_and_goes_first() {
        let outbox = outbox(2);
        outbox.push(&bootstrap("c1"));
        outbox.push(&event("c2"));
        outbox.push(&event("c3"));
        // The bootstrap is sent before the resync it caused: it paces a client that overflows
        // every time, and its cursor precedes what was dropped.
        assert_eq!(next(&outbox).await, "bootstrap c1");
        assert_eq!(next(&outbox).await, "resync");
        outbox.push(&event("c4"));
        outbox.push(&bootstrap("c5"));
        assert_eq!(next(&outbox).await, "bootstrap c5");
        assert_eq!(outbox.counters.resyncs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_bootstrap_and_its_updates_that_fit_pass_in_order() {
        let outbox = outbox(3);
        outbox.push(&bootstrap("c1"));
        outbox.push(&event("c2"));
        outbox.push(&event("c3"));
        for expected in ["bootstrap c1", "event c2", "event c3"] {
            assert_eq!(next(&outbox).await, expected);
        }
    }
}
