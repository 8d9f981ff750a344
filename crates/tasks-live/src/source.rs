//! [`LiveSource`]: where a hub's data comes from (a [`TaskHost`] in this process, a store's
//! change feed, or both) and [`HubOptions`], how it follows them.

use std::sync::Arc;
use std::time::Duration;

use tasks_core::{Clock, SystemClock, TaskStore};
use tasks_host::TaskHost;

/// How a hub follows its source. Every field has a default.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HubOptions {
    /// How often the change feed is read when no wake-up came (default 50 ms). The latency of
    /// an update from another process is at most about this.
    pub poll_interval: Duration,
    /// Most changes read per feed call (default 1000).
    pub page_size: u32,
    /// How many recent steps are sent for a task the hub knows nothing of yet, and replayed
    /// per changed task on resume (default 1000, the tracker's default capacity).
    pub step_window: u32,
    /// Most tasks the hub remembers what it sent about (default 100,000).
    pub known_capacity: usize,
    /// Most events buffered per subscriber while its bootstrap is read (default 10,000);
    /// beyond that the bootstrap is read again. Every event that may concern the subscriber
    /// counts: its filter's states and statuses are applied once the bootstrap is known.
    pub bootstrap_buffer: usize,
    /// Most changes replayed on resume before a fresh bootstrap is cheaper (default 10,000).
    pub max_replay: usize,
    /// How many tasks, beyond its bootstrap's `limit`, the hub records a subscriber holds
    /// (default 10,000). Only subscribers filtering by state or status keep such a record:
    /// it tells the hub to send them the update in which a task they hold leaves their
    /// filter, even when the hub's own memory of the task lags (a bootstrap read a task
    /// running that the change-feed follower last saw queued).
    ///
    /// A bootstrap always fits. Past the bound, for the tasks it could not record, the hub
    /// falls back on its own memory (it sends a task that was in the filter when the hub last
    /// sent it), which is right for a task the subscriber was sent live, and sends some
    /// updates the tracker drops. The subscriber's next bootstrap starts a fresh record. (A
    /// resumed subscriber keeps no record until then: it is sent every update whose fixed
    /// fields match.)
    pub held_capacity: usize,
}

impl Default for HubOptions {
    fn default() -> Self {
        HubOptions {
            poll_interval: Duration::from_millis(50),
            page_size: 1000,
            step_window: 1000,
            known_capacity: 100_000,
            bootstrap_buffer: 10_000,
            max_replay: 10_000,
            held_capacity: 10_000,
        }
    }
}

impl HubOptions {
    /// The same options with another poll interval (at least 1 ms).
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The same options with another step window (at least 1).
    #[must_use]
    pub fn step_window(mut self, steps: u32) -> Self {
        self.step_window = steps.max(1);
        self
    }

    /// The same options with another bound on the tasks recorded per subscriber (see
    /// [`HubOptions::held_capacity`]).
    #[must_use]
    pub fn held_capacity(mut self, tasks: usize) -> Self {
        self.held_capacity = tasks;
        self
    }

    /// The same options with another bootstrap buffer bound (at least 1).
    #[must_use]
    pub fn bootstrap_buffer(mut self, events: usize) -> Self {
        self.bootstrap_buffer = events.max(1);
        self
    }
}

/// Where a hub reads and hears from.
///
/// - [`LiveSource::host`]: bootstrap through the host's read path, events from its in-process
///   lifecycle events (tasks this process runs or enqueues).
/// - [`LiveSource::store`]: bootstrap from the store, events from its change feed (tasks any
///   process runs: a web server that runs no workers).
/// - Both ([`LiveSource::with_change_feed`]): bootstrap through the host, in-process events at
///   once, and the feed for everything else (other processes, and writes the host tells no
///   event for); each update is sent once.
pub struct LiveSource {
    pub(crate) host: Option<TaskHost>,
    pub(crate) store: Option<Arc<dyn TaskStore>>,
    pub(crate) options: HubOptions,
    pub(crate) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSource")
            .field("host", &self.host.is_some())
            .field("store", &self.store.is_some())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl LiveSource {
    /// A host: its bootstrap and its in-process lifecycle events.
    pub fn host(host: TaskHost) -> Self {
        LiveSource {
            host: Some(host),
            store: None,
            options: HubOptions::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// A store with a change feed (any `TaskStore`; an `Arc` of one works too).
    pub fn store(store: impl TaskStore + 'static) -> Self {
        LiveSource::store_arc(Arc::new(store))
    }

    /// The same from a shared store.
    pub fn store_arc(store: Arc<dyn TaskStore>) -> Self {
        LiveSource {
            host: None,
            store: Some(store),
            options: HubOptions::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Also follows `store`'s change feed (the host's own store, or the one it shares).
    #[must_use]
    pub fn with_change_feed(mut self, store: Arc<dyn TaskStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The options.
    #[must_use]
    pub fn options(mut self, options: HubOptions) -> Self {
        self.options = options;
        self
    }

    /// The poll interval of the change feed (see [`HubOptions::poll_interval`]).
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.options = self.options.poll_interval(interval);
        self
    }

    /// The clock that stamps messages ([`SystemClock`] otherwise).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }
}

impl From<TaskHost> for LiveSource {
    fn from(host: TaskHost) -> Self {
        LiveSource::host(host)
    }
}

impl From<Arc<dyn TaskStore>> for LiveSource {
    fn from(store: Arc<dyn TaskStore>) -> Self {
        LiveSource::store_arc(store)
    }
}
