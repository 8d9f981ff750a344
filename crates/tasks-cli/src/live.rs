//! Following tasks live: a [`TaskLiveHub`] subscription fed into a tracker and a
//! [`Board`], until what the caller waits for happens ([`Until`]) or a stop signal arrives.
//! `tasks watch` follows a store's change feed (so it sees what other processes do); the demo
//! follows its own host.

use std::time::Duration;

use tasks::AnyTaskStore;
use tasks::StoreListener;
use tasks::core::{SubscriptionQuery, TaskId, TaskLiveMessage, TaskSnapshot};
use tasks::live::{LiveSource, TaskLiveHub, TaskLiveTracker};
use tokio::sync::mpsc;

use crate::error::CliError;
use crate::output::board::Board;
use crate::runtime::{StopSignal, StopSignals};

/// When a follow ends (a stop signal always ends it).
#[derive(Clone, Debug)]
pub(crate) enum Until {
    /// Only on a stop signal.
    Stopped,
    /// When every task the subscription holds has finished (at once when it holds none).
    AllDone,
    /// When this task has finished.
    TaskDone(TaskId),
}

/// Why a follow ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// A stop signal.
    Signal(StopSignal),
    /// Every task finished.
    AllDone,
    /// The task finished; its last snapshot.
    TaskDone(Box<TaskSnapshot>),
}

/// A hub following a store's change feed, woken by the store's notifications where it has
/// them (PostgreSQL); polling at `poll_interval` otherwise.
pub(crate) struct StoreFollower {
    pub(crate) hub: TaskLiveHub,
    listener: Option<StoreListener>,
}

impl StoreFollower {
    /// Starts following `store`. Must run inside the runtime.
    pub(crate) async fn start(
        store: &AnyTaskStore,
        poll_interval: Duration,
    ) -> Result<Self, CliError> {
        let source = LiveSource::store_arc(store.as_arc().clone()).poll_interval(poll_interval);
        let hub = TaskLiveHub::new(source)?;
        let listener = match hub.feed_waker() {
            Some(waker) => listen(store, move || waker.wake()).await?,
            None => None,
        };
        Ok(StoreFollower { hub, listener })
    }

    /// Stops listening.
    pub(crate) async fn stop(self) {
        stop_listening(self.listener).await;
    }
}

/// Listens for the store's notifications (PostgreSQL; `None` for a store without them),
/// calling `on_wake` on each. `listen` connects, blocking: it runs off the runtime's workers.
pub(crate) async fn listen(
    store: &AnyTaskStore,
    on_wake: impl Fn() + Send + 'static,
) -> Result<Option<StoreListener>, CliError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.listen(on_wake))
        .await
        .map_err(|err| CliError::runtime(format!("the listener task failed: {err}")))?
        .map_err(CliError::from)
}

/// Stops a listener, joining its thread off the runtime's workers.
pub(crate) async fn stop_listening(listener: Option<StoreListener>) {
    if let Some(listener) = listener {
        let _ = tokio::task::spawn_blocking(move || listener.stop()).await;
    }
}

/// Subscribes `query` on `hub` and shows every message on `board` until `until` or a signal.
pub(crate) async fn follow(
    hub: &TaskLiveHub,
    query: SubscriptionQuery,
    board: &mut Board,
    until: &Until,
    signals: &mut StopSignals,
) -> Result<Ended, CliError> {
    let (sender, mut messages) = mpsc::unbounded_channel::<TaskLiveMessage>();
    // The listener only hands messages over: it runs on the hub's delivery path.
    let subscription = hub
        .subscribe(query, move |message| {
            let _ = sender.send(message.clone());
        })
        .await?;
    let mut tracker = TaskLiveTracker::new().with_max_steps_per_task(1);
    let ended = loop {
        tokio::select! {
            message = messages.recv() => {
                let Some(message) = message else {
                    return Err(CliError::runtime("the live subscription ended unexpectedly"));
                };
                tracker.apply(&message);
                board.message(&message, &tracker)?;
                if let Some(ended) = reached(until, &tracker) {
                    break ended;
                }
            }
            signal = signals.recv() => break Ended::Signal(signal),
        }
    };
    drop(subscription);
    board.finish();
    Ok(ended)
}

/// Whether the tracker shows what the caller waits for.
fn reached(until: &Until, tracker: &TaskLiveTracker) -> Option<Ended> {
    match until {
        Until::Stopped => None,
        Until::AllDone => tracker
            .snapshots()
            .all(|snapshot| snapshot.status.is_terminal())
            .then_some(Ended::AllDone),
        Until::TaskDone(id) => tracker
            .snapshot(id)
            .filter(|snapshot| snapshot.status.is_terminal())
            .map(|snapshot| Ended::TaskDone(Box::new(snapshot.clone()))),
    }
}
