//! [`Outbox`]: one connection's bounded queue between the hub (which never waits) and the
//! socket (which waits for the client).
//!
//! When the queue is full the client is too slow: with [`SlowClient::Resync`] the queue is
//! emptied and the connection sends a fresh bootstrap next (read after the overflow, so it
//! covers every update dropped); with [`SlowClient::Disconnect`] the connection is closed.
//! Either way a connection never holds more than its bound, whatever the client does.

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
            if queue.items.len() >= self.capacity {
                queue.items.clear();
                match self.policy {
                    SlowClient::Resync => {
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
