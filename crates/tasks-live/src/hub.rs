//! [`TaskLiveHub`]: the spec's `createTaskLiveHub`. `bootstrap(query)` reads the current state
//! through the one canonical read path; `subscribe(query, listener)` hands the listener a
//! bootstrap, then every later update, until the [`Subscription`] is dropped.
//!
//! # No gap, no regression
//!
//! A subscriber is registered *before* its bootstrap is read, and what arrives during the
//! read is buffered and delivered right after the bootstrap. Every write committed before the
//! read is in the bootstrap; every write after it reaches the buffer. Both may hold the same
//! revision: every event carries its task's revision (and a step its `seq`), and the tracker
//! keeps only what is newer than what it holds.
//!
//! # Leaving a filter
//!
//! A subscriber is sent the updates of a task that matches its query, and of a task its
//! tracker holds, so it hears when one leaves (a running task finishing, for a query on the
//! `running` state). What it holds is recorded per subscriber, from its bootstrap and from what
//! it was sent, because the hub's own memory of a task can lag a bootstrap read. See
//! [`HubOptions::held_capacity`](crate::HubOptions::held_capacity) for the bound and what
//! happens past it. A resumed subscriber holds what an earlier connection was sent: until its
//! next bootstrap it is sent every update whose ids, kinds, channels and keys match.
//!
//! # Deletions
//!
//! A task deleted by compaction is told to no one (the spec's message shape has no
//! deletion): a subscriber keeps it until its next bootstrap. The crate docs say when that
//! is.
//!
//! # Resume
//!
//! With a change feed, each delivery may carry a cursor ([`LiveUpdate::cursor`]): every change
//! up to it was delivered. A subscriber that comes back with its last cursor
//! ([`SubscribeOptions::resume_from`]) gets the current snapshot and recent steps of every
//! task changed since (as events), then live updates: it misses nothing. A cursor the store
//! no longer knows (too old), or more changed tasks than
//! [`SubscribeOptions::max_replay_messages`], gets a fresh bootstrap instead. So does every
//! subscriber when the follower's own feed position is too old.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tasks_core::{
    ChangeCursor, Clock, SubscriptionQuery, TaskLiveMessage, TaskStoreExt,
    TaskSubscriptionBootstrap,
};
use tasks_host::TaskHost;
use tokio::sync::{Notify, watch};

use crate::blocking::StoreHandle;
use crate::error::LiveError;
use crate::source::{HubOptions, LiveSource};
use crate::state::HubState;
use crate::subscriber::{GoLive, Listener};
use crate::update::LiveUpdate;

/// What a subscriber asks for.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct SubscribeOptions {
    /// Which tasks, how many, how many recent steps each, and whether with the aggregate.
    pub query: SubscriptionQuery,
    /// Resume after this cursor (the last one the subscriber saw) instead of a bootstrap.
    pub resume_from: Option<ChangeCursor>,
    /// Most messages a resume may replay; beyond it the subscriber gets a fresh bootstrap
    /// (one message) instead. A transport with a bounded queue sets its bound here.
    pub max_replay_messages: Option<usize>,
}

impl SubscribeOptions {
    /// A subscription to `query`, starting with a bootstrap.
    pub fn new(query: SubscriptionQuery) -> Self {
        SubscribeOptions { query, resume_from: None, max_replay_messages: None }
    }

    /// The same subscription resuming after `cursor` (a fresh bootstrap when `None`).
    #[must_use]
    pub fn resume_from(mut self, cursor: Option<ChangeCursor>) -> Self {
        self.resume_from = cursor;
        self
    }

    /// The same subscription replaying at most `messages` on resume (see
    /// [`SubscribeOptions::max_replay_messages`]).
    #[must_use]
    pub fn max_replay_messages(mut self, messages: usize) -> Self {
        self.max_replay_messages = Some(messages);
        self
    }
}

/// The change-feed follower's shared parts.
pub(crate) struct Feed {
    pub(crate) store: StoreHandle,
    /// Where the follower reads on from; `None` while nobody subscribes.
    pub(crate) cursor: tokio::sync::Mutex<Option<ChangeCursor>>,
    pub(crate) wake: Arc<Notify>,
    /// Catch-up requests made, and served (by a cycle that began after them).
    pub(crate) requested: AtomicU64,
    pub(crate) served: watch::Sender<Served>,
}

/// The last catch-up request a follower cycle served, and whether that cycle failed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Served {
    pub(crate) request: u64,
    pub(crate) error: Option<String>,
}

/// What a hub and its follower share.
pub(crate) struct Shared {
    pub(crate) state: Mutex<HubState>,
    pub(crate) host: Option<TaskHost>,
    pub(crate) store: Option<StoreHandle>,
    pub(crate) feed: Option<Feed>,
    pub(crate) options: HubOptions,
    pub(crate) clock: Arc<dyn Clock>,
    host_subscription: Mutex<Option<tasks_host::Subscription>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let subscription =
            self.host_subscription.get_mut().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(subscription) = subscription {
            subscription.unsubscribe();
        }
    }
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HubState> {
        // Listeners run under this lock behind `catch_unwind`, and every section leaves the
        // state consistent: a poisoned lock is safe to take over.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads a bootstrap through the canonical path: the host's when there is one.
    pub(crate) async fn read_bootstrap(
        &self,
        query: &SubscriptionQuery,
    ) -> Result<TaskSubscriptionBootstrap, LiveError> {
        if let Some(host) = &self.host {
            return Ok(host.bootstrap(query.clone()).await?);
        }
        let Some(store) = &self.store else { return Err(LiveError::NoEvents) };
        let (query, now) = (query.clone(), self.clock.now());
        Ok(store.call(move |store| store.bootstrap(&query, now)).await?)
    }

    /// Reads `id`'s bootstrap and makes it live, again while its buffer overflows.
    pub(crate) async fn bootstrap_into(
        &self,
        id: u64,
        query: &SubscriptionQuery,
    ) -> Result<(), LiveError> {
        loop {
            let bootstrap = self.read_bootstrap(query).await?;
            let cursor = bootstrap.cursor.clone();
            let first = LiveUpdate::new(TaskLiveMessage::Bootstrap(bootstrap), cursor.clone());
            match self.lock().go_live(id, vec![first], cursor) {
                GoLive::Done | GoLive::Gone => return Ok(()),
                GoLive::Overflowed => continue,
            }
        }
    }

    /// Gives live subscriber `id` a fresh bootstrap through its listener, then goes on live
    /// (its mirror of what the tracker holds starts again from that bootstrap). Nothing to do
    /// when it is gone or already waiting for a bootstrap.
    #[cfg(feature = "http")]
    pub(crate) async fn resync(&self, id: u64) -> Result<(), LiveError> {
        let Some(query) = self.lock().restart(id) else { return Ok(()) };
        self.bootstrap_into(id, &query).await
    }

    /// Makes sure the follower has a position no later than now (it drops it while idle).
    pub(crate) async fn ensure_feed_position(&self) -> Result<(), LiveError> {
        let Some(feed) = &self.feed else { return Ok(()) };
        let mut cursor = feed.cursor.lock().await;
        if cursor.is_none() {
            *cursor = Some(feed.store.call(|store| store.change_cursor()).await?);
            feed.wake.notify_one();
        }
        Ok(())
    }
}

/// The live hub. Cheap to clone; every clone is the same hub. See the module docs.
#[derive(Clone)]
pub struct TaskLiveHub {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for TaskLiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskLiveHub")
            .field("host", &self.shared.host.is_some())
            .field("change_feed", &self.shared.feed.is_some())
            .field("subscribers", &self.subscriber_count())
            .finish_non_exhaustive()
    }
}

/// A live subscription: the listener hears updates until this is dropped.
///
/// Do not drop it from inside its own listener (listeners run under the hub's lock).
pub struct Subscription {
    shared: Arc<Shared>,
    id: u64,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Subscription {
    /// The position to resume from after a disconnect: every change up to it was delivered.
    /// `None` without a change feed.
    pub fn cursor(&self) -> Option<ChangeCursor> {
        self.shared.lock().cursor(self.id)
    }

    /// Stops the listener (the same as dropping the subscription).
    pub fn unsubscribe(self) {}

    /// A handle that gives this subscription a fresh bootstrap, for a transport that dropped
    /// messages on their way to the client (see [`Resync`]).
    #[cfg(feature = "http")]
    pub(crate) fn resync_handle(&self) -> Resync {
        Resync { shared: Arc::downgrade(&self.shared), id: self.id }
    }
}

/// Gives a subscription a fresh bootstrap, through its listener, then goes on live.
///
/// For a transport whose queue overflowed: the client missed messages, and the hub's record
/// of what the client holds no longer agrees with it. Reading the bootstrap through the hub
/// (instead of beside it) starts that record again from what the client is sent.
#[cfg(feature = "http")]
#[derive(Clone, Debug)]
pub(crate) struct Resync {
    shared: Weak<Shared>,
    id: u64,
}

#[cfg(feature = "http")]
impl Resync {
    /// Reads the bootstrap and hands it to the listener. Returns once it was handed over (or
    /// at once when a bootstrap is on its way already).
    ///
    /// # Errors
    ///
    /// The read's errors; [`LiveError::NoEvents`] when the hub is gone.
    pub(crate) async fn resync(&self) -> Result<(), LiveError> {
        let Some(shared) = self.shared.upgrade() else { return Err(LiveError::NoEvents) };
        shared.resync(self.id).await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.shared.lock().remove(self.id);
    }
}

/// Wakes a hub's change-feed follower at once (a store's notification arrived). Cheap to
/// clone; callable from any thread; never blocks.
#[derive(Clone, Debug)]
pub struct FeedWaker {
    wake: Weak<Notify>,
}

impl FeedWaker {
    /// Tells the follower to read the feed now.
    pub fn wake(&self) {
        if let Some(wake) = self.wake.upgrade() {
            wake.notify_one();
        }
    }
}

impl TaskLiveHub {
    /// A hub over `source` (a [`TaskHost`], a store with a change feed, or both).
    ///
    /// # Errors
    ///
    /// [`LiveError::NoRuntime`] outside a tokio runtime (the change-feed follower runs on it);
    /// [`LiveError::NoEvents`] for a store without a change feed and no host.
    pub fn new(source: impl Into<LiveSource>) -> Result<Self, LiveError> {
        let source = source.into();
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| LiveError::NoRuntime)?;
        let store = source.store.map(StoreHandle::new);
        let feed = store.as_ref().filter(|store| store.has_change_feed()).map(|store| Feed {
            store: store.clone(),
            cursor: tokio::sync::Mutex::new(None),
            wake: Arc::new(Notify::new()),
            requested: AtomicU64::new(0),
            served: watch::Sender::new(Served::default()),
        });
        if source.host.is_none() && feed.is_none() {
            return Err(LiveError::NoEvents);
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(HubState::new(
                source.options.known_capacity,
                source.options.held_capacity,
            )),
            host: source.host,
            store,
            feed,
            options: source.options,
            clock: source.clock,
            host_subscription: Mutex::new(None),
        });
        if let Some(host) = &shared.host {
            let weak = Arc::downgrade(&shared);
            let subscription = host.on_lifecycle_event(move |event| {
                if let Some(shared) = weak.upgrade() {
                    let now = shared.clock.now();
                    shared.lock().host_event(event, now);
                }
            });
            *shared.host_subscription.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(subscription);
        }
        if shared.feed.is_some() {
            runtime.spawn(crate::feed::follow(Arc::downgrade(&shared)));
        }
        Ok(TaskLiveHub { shared })
    }

    /// The current state for `query`, through the host's read path (or the store's): the
    /// spec's `hub.bootstrap(query)`.
    ///
    /// # Errors
    ///
    /// [`LiveError::InvalidQuery`] for a bad query; the read's errors.
    pub async fn bootstrap(
        &self,
        query: SubscriptionQuery,
    ) -> Result<TaskSubscriptionBootstrap, LiveError> {
        let query = normalized(query)?;
        self.shared.read_bootstrap(&query).await
    }

    /// Subscribes `listener` to `query`: it gets a bootstrap message, then events, in the
    /// spec's `TaskLiveMessage` shape, until the returned [`Subscription`] is dropped.
    ///
    /// Listeners run on the hub's delivery path, in order: keep them short and non-blocking
    /// (hand the message to a channel), and do not call the hub from inside one.
    ///
    /// # Errors
    ///
    /// [`LiveError::InvalidQuery`] for a bad query; the bootstrap read's errors.
    pub async fn subscribe(
        &self,
        query: SubscriptionQuery,
        listener: impl Fn(&TaskLiveMessage) + Send + Sync + 'static,
    ) -> Result<Subscription, LiveError> {
        self.subscribe_updates(SubscribeOptions::new(query), move |update: &LiveUpdate| {
            listener(update.message());
        })
        .await
    }

    /// Subscribes with options (resume from a cursor) and a listener that also sees each
    /// update's resume cursor. Otherwise as [`TaskLiveHub::subscribe`].
    ///
    /// # Errors
    ///
    /// As [`TaskLiveHub::subscribe`]. A resume cursor the store no longer knows is not an
    /// error: the subscriber gets a fresh bootstrap.
    pub async fn subscribe_updates(
        &self,
        options: SubscribeOptions,
        listener: impl Fn(&LiveUpdate) + Send + Sync + 'static,
    ) -> Result<Subscription, LiveError> {
        let query = normalized(options.query)?;
        let listener: Listener = Arc::new(listener);
        let cap = self.shared.options.bootstrap_buffer;
        let id = self.shared.lock().add(query.clone(), listener, cap);
        // From here on the subscriber buffers every update; dropping this on an error below
        // unregisters it.
        let subscription = Subscription { shared: Arc::clone(&self.shared), id };
        self.shared.ensure_feed_position().await?;
        if let Some(cursor) = options.resume_from {
            let limit = options.max_replay_messages.unwrap_or(usize::MAX);
            if crate::feed::resume(&self.shared, id, &query, cursor, limit).await? {
                return Ok(subscription);
            }
        }
        self.shared.bootstrap_into(id, &query).await?;
        Ok(subscription)
    }

    /// Reads the change feed now and returns once every change committed before this call has
    /// been delivered. Without a change feed, returns at once.
    ///
    /// # Errors
    ///
    /// [`LiveError::Store`] (as a backend error) when the feed read failed.
    pub async fn catch_up(&self) -> Result<(), LiveError> {
        let Some(feed) = &self.shared.feed else { return Ok(()) };
        let request = feed.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut served = feed.served.subscribe();
        feed.wake.notify_one();
        let served = served
            .wait_for(|served| served.request >= request)
            .await
            .map_err(|_| LiveError::NoEvents)?
            .clone();
        match served.error {
            None => Ok(()),
            Some(message) => {
                Err(LiveError::Store(tasks_core::StoreError::Backend { message, source: None }))
            }
        }
    }

    /// A handle that wakes the change-feed follower (hand it to a store's notification
    /// listener, such as the Postgres store's `listen`); `None` without a change feed.
    pub fn feed_waker(&self) -> Option<FeedWaker> {
        self.shared.feed.as_ref().map(|feed| FeedWaker { wake: Arc::downgrade(&feed.wake) })
    }

    /// How many subscriptions are open.
    pub fn subscriber_count(&self) -> usize {
        self.shared.lock().subscriber_count()
    }

    /// Whether the hub follows a store's change feed (and so can resume from cursors).
    pub fn has_change_feed(&self) -> bool {
        self.shared.feed.is_some()
    }
}

/// Checks a query and normalizes its filter (channels), so the hub compares like with like.
fn normalized(mut query: SubscriptionQuery) -> Result<SubscriptionQuery, LiveError> {
    query.filter = query.filter.normalized()?;
    Ok(query)
}

#[cfg(all(test, feature = "http"))]
mod tests;
