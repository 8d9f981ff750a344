//! Wake-ups across processes: LISTEN/NOTIFY as a hint that tasks became claimable, never as
//! the carrier of data, with polling as the fallback.
//!
//! Sending (`Notifier`): a write that makes a task claimable now (enqueue, release, a
//! recovered lease) only raises a flag; a background thread sends one `pg_notify` for all
//! flags raised since its last one, then waits `notify_interval` before it may send again.
//! So a store sends at most one notification per interval however many tasks it enqueues,
//! never one per progress or step write, and never inside the writer's transaction (where
//! `pg_notify` would take a global lock at commit). The notification follows the commit it
//! announces, so a listener that wakes finds the task. Transactional enqueue is the one
//! exception: it notifies inside the caller's transaction (PostgreSQL folds repeats within
//! one), since only the caller knows when it commits.
//!
//! Receiving ([`WakeupListener`], [`Wakeups`]): a dedicated connection (not from the pools)
//! LISTENs on the store's channel in a thread of its own. Notifications for other schemas
//! sharing the channel name are ignored. When the connection drops, or stops answering (a
//! quiet listener checks it every few seconds, within the response timeout), the thread
//! reconnects and fires one wake-up, since notifications sent in between were lost. Like every
//! session, the listener's never waits past the response timeout, so `stop` returns even on a
//! stalled network. A runner still
//! polls at its poll interval: a wake-up only shortens the wait.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, Once, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use r2d2::Pool;

use crate::error::PostgresError;
use crate::pool::{Db, Manager};
use crate::session::{ConnectError, Listening, async_config};
use crate::store::{PostgresTaskStore, connect_error};

/// How often a listener thread looks at its stop flag while no notification arrives.
const TICK: Duration = Duration::from_millis(200);
/// How many quiet ticks pass before a listener checks that its connection still answers (a
/// stalled network delivers no notification and no error either).
const CHECK_EVERY_TICKS: u32 = 25;

#[derive(Default)]
struct Flags {
    pending: bool,
    shutdown: bool,
}

#[derive(Default)]
struct Shared {
    flags: Mutex<Flags>,
    signal: Condvar,
}

impl Shared {
    fn flags(&self) -> std::sync::MutexGuard<'_, Flags> {
        // The flags are two booleans; a panic elsewhere cannot leave them inconsistent.
        self.flags.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Sends coalesced wake-up notifications from a background thread (started on first use).
pub(crate) struct Notifier {
    shared: Arc<Shared>,
    started: Once,
    pool: Pool<Manager>,
    sql: String,
    channel: String,
    payload: String,
    interval: Duration,
}

impl Notifier {
    pub(crate) fn new(
        pool: Pool<Manager>,
        sql: String,
        channel: String,
        payload: String,
        interval: Duration,
    ) -> Self {
        Notifier {
            shared: Arc::default(),
            started: Once::new(),
            pool,
            sql,
            channel,
            payload,
            interval,
        }
    }

    /// Asks for a notification to be sent soon (at once if none was sent within the interval).
    pub(crate) fn wake(&self) {
        {
            let mut flags = self.shared.flags();
            if flags.pending {
                return;
            }
            flags.pending = true;
        }
        self.started.call_once(|| self.spawn());
        self.shared.signal.notify_one();
    }

    fn spawn(&self) {
        let shared = Arc::clone(&self.shared);
        let pool = self.pool.clone();
        let (sql, channel, payload, interval) =
            (self.sql.clone(), self.channel.clone(), self.payload.clone(), self.interval);
        let spawned = thread::Builder::new().name("tasks-pg-notify".to_owned()).spawn(move || {
            loop {
                {
                    let mut flags = shared.flags();
                    while !flags.pending && !flags.shutdown {
                        flags = shared.signal.wait(flags).unwrap_or_else(PoisonError::into_inner);
                    }
                    if !flags.pending {
                        return;
                    }
                    flags.pending = false;
                }
                // A lost notification only delays runners until their next poll.
                if let Ok(mut conn) = pool.get() {
                    let _ = conn.query(&sql, &[&channel, &payload]);
                }
                let flags = shared.flags();
                if flags.shutdown {
                    return;
                }
                let _ = shared.signal.wait_timeout_while(flags, interval, |flags| !flags.shutdown);
            }
        });
        // Without the thread, wake-ups are simply not sent; runners poll.
        drop(spawned);
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.shared.flags().shutdown = true;
        self.shared.signal.notify_all();
    }
}

/// A running LISTEN on the store's channel. Dropping it stops the listening thread within
/// a fraction of a second (without waiting for it); [`WakeupListener::stop`] waits.
#[derive(Debug)]
pub struct WakeupListener {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WakeupListener {
    /// Stops listening and waits for the thread to end.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for WakeupListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Wake-ups as a channel: each message means "tasks may have become claimable". Repeated
/// wake-ups before the receiver looks are folded into one.
#[derive(Debug)]
pub struct Wakeups {
    receiver: Receiver<()>,
    _listener: WakeupListener,
}

impl Wakeups {
    /// Waits until a wake-up arrives or `poll` has passed, whichever comes first; `true` when
    /// woken. Use the poll interval as `poll`: it is the fallback when a notification is lost.
    pub fn wait(&self, poll: Duration) -> bool {
        match self.receiver.recv_timeout(poll) {
            Ok(()) => true,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => false,
        }
    }

    /// Whether a wake-up is waiting, without blocking (and consumes it).
    pub fn try_recv(&self) -> bool {
        self.receiver.try_recv().is_ok()
    }
}

impl PostgresTaskStore {
    /// Listens for wake-ups from every process sharing the store, on a dedicated connection
    /// and thread, calling `on_wake` for each (from that thread: keep it short, e.g.
    /// `tokio::sync::Notify::notify_one`).
    ///
    /// # Errors
    ///
    /// [`PostgresError::Unreachable`] when the first connection fails; later connection
    /// failures are retried by the thread.
    pub fn listen(
        &self,
        on_wake: impl Fn() + Send + 'static,
    ) -> Result<WakeupListener, PostgresError> {
        let options = &self.inner.options;
        let names = &self.inner.sql.names;
        let listen_sql = format!("LISTEN \"{}\"", names.channel);
        let endpoint = options.endpoint();
        let subscribe = Subscribe {
            config: async_config(&options.config),
            timeout: options.response_timeout,
            listen_sql,
        };
        let client =
            subscribe.connect().map_err(|err| connect_error(&endpoint, err, options.password()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let schema = names.schema.clone();
        let thread = thread::Builder::new()
            .name("tasks-pg-listen".to_owned())
            .spawn(move || listen_loop(client, &subscribe, &schema, &flag, &on_wake))
            .map_err(|err| PostgresError::Database {
                message: format!("cannot start the listener thread: {err}"),
                source: None,
            })?;
        Ok(WakeupListener { stop, thread: Some(thread) })
    }

    /// Listens for wake-ups (as [`PostgresTaskStore::listen`]) and delivers them through a
    /// channel.
    ///
    /// # Errors
    ///
    /// As [`PostgresTaskStore::listen`].
    pub fn wakeups(&self) -> Result<Wakeups, PostgresError> {
        let (sender, receiver): (SyncSender<()>, Receiver<()>) = mpsc::sync_channel(1);
        let listener = self.listen(move || match sender.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        })?;
        Ok(Wakeups { receiver, _listener: listener })
    }
}

/// How a listener (re)connects.
struct Subscribe {
    config: tokio_postgres::Config,
    timeout: Option<Duration>,
    listen_sql: String,
}

impl Subscribe {
    fn connect(&self) -> Result<Listening, ConnectError> {
        Listening::connect(&self.config, self.timeout, &self.listen_sql)
    }
}

fn listen_loop(
    client: Listening,
    subscribe: &Subscribe,
    schema: &str,
    stop: &AtomicBool,
    on_wake: &dyn Fn(),
) {
    let mut client = Some(client);
    let mut failures = 0u32;
    let mut quiet_ticks = 0u32;
    while !stop.load(Ordering::SeqCst) {
        let Some(connected) = client.as_mut() else {
            match subscribe.connect() {
                Ok(fresh) => {
                    client = Some(fresh);
                    failures = 0;
                    // Notifications sent while we were away are lost: look for work now.
                    on_wake();
                }
                Err(_) => {
                    failures = failures.saturating_add(1);
                    let pause = TICK.saturating_mul(failures.min(10));
                    thread::sleep(pause);
                }
            }
            continue;
        };
        let lost = match connected.next(TICK) {
            Ok(Some(notification)) => {
                quiet_ticks = 0;
                if notification.payload() == schema {
                    on_wake();
                }
                false
            }
            Ok(None) => {
                quiet_ticks += 1;
                quiet_ticks >= CHECK_EVERY_TICKS && {
                    quiet_ticks = 0;
                    connected.check().is_err()
                }
            }
            Err(_) => true,
        };
        if lost {
            // Dropping a session never waits for the server.
            client = None;
        }
    }
}
