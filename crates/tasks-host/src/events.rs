//! Host and lifecycle event listeners: the host's event bus, and the [`Subscription`] that
//! removes a listener.
//!
//! Events are built where they happen and handed to one dispatcher thread per host, which calls
//! the listeners in order (events made together, such as those of one claim or one burst of
//! final writes, go over in one hand-off, so a busy host wakes the dispatcher once per batch,
//! not once per event): host listeners get every [`TaskHostEvent`], lifecycle listeners the
//! [`TaskLifecycleEvent`] it stands for (the spec's eleven names, each with the task's snapshot,
//! step events with their step). A slow or blocking listener therefore delays other listeners
//! but never a task, the claim loop or a runtime worker; a panicking listener is caught and
//! keeps its place. With no listener at all, no event is even built.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, Weak};

use tasks_core::{TaskHostEvent, TaskLifecycleEvent};

type HostListener = Arc<dyn Fn(&TaskHostEvent) + Send + Sync>;
type LifecycleListener = Arc<dyn Fn(&TaskLifecycleEvent) + Send + Sync>;

#[derive(Default)]
struct Listeners {
    host: RwLock<Vec<(u64, HostListener)>>,
    lifecycle: RwLock<Vec<(u64, LifecycleListener)>>,
    count: AtomicUsize,
    next_id: AtomicU64,
}

/// Fans events out to listeners, off the threads that produce them.
#[derive(Default)]
pub(crate) struct EventBus {
    listeners: Arc<Listeners>,
    sender: OnceLock<Mutex<Sender<Vec<TaskHostEvent>>>>,
}

/// A registered listener. Dropping it keeps the listener; [`Subscription::unsubscribe`] removes
/// it.
#[derive(Debug)]
pub struct Subscription {
    id: u64,
    lifecycle: bool,
    listeners: Weak<Listeners>,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners").field("count", &self.count).finish_non_exhaustive()
    }
}

impl Subscription {
    /// Removes the listener; events already handed to the dispatcher may still reach it.
    pub fn unsubscribe(self) {
        let Some(listeners) = self.listeners.upgrade() else { return };
        let removed = if self.lifecycle {
            remove(&listeners.lifecycle, self.id)
        } else {
            remove(&listeners.host, self.id)
        };
        if removed {
            listeners.count.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn remove<T>(list: &RwLock<Vec<(u64, T)>>, id: u64) -> bool {
    let mut list = list.write().unwrap_or_else(PoisonError::into_inner);
    let before = list.len();
    list.retain(|(entry, _)| *entry != id);
    list.len() != before
}

impl EventBus {
    /// Whether anyone listens: when not, callers skip building events.
    pub(crate) fn has_listeners(&self) -> bool {
        self.listeners.count.load(Ordering::SeqCst) > 0
    }

    pub(crate) fn on_event(&self, listener: HostListener) -> Subscription {
        self.subscribe(false, |id| {
            self.listeners
                .host
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .push((id, listener));
        })
    }

    pub(crate) fn on_lifecycle_event(&self, listener: LifecycleListener) -> Subscription {
        self.subscribe(true, |id| {
            let mut list = self.listeners.lifecycle.write().unwrap_or_else(PoisonError::into_inner);
            list.push((id, listener));
        })
    }

    fn subscribe(&self, lifecycle: bool, add: impl FnOnce(u64)) -> Subscription {
        // The dispatcher starts with the first listener: a host nobody listens to has no thread.
        self.sender.get_or_init(|| Mutex::new(spawn_dispatcher(Arc::clone(&self.listeners))));
        let id = self.listeners.next_id.fetch_add(1, Ordering::SeqCst);
        add(id);
        self.listeners.count.fetch_add(1, Ordering::SeqCst);
        Subscription { id, lifecycle, listeners: Arc::downgrade(&self.listeners) }
    }

    /// Hands an event to the dispatcher. Never blocks.
    pub(crate) fn emit(&self, event: TaskHostEvent) {
        self.emit_all(vec![event]);
    }

    /// Hands `events` to the dispatcher together, in order.
    pub(crate) fn emit_all(&self, events: Vec<TaskHostEvent>) {
        if events.is_empty() || !self.has_listeners() {
            return;
        }
        if let Some(sender) = self.sender.get() {
            let sender = sender.lock().unwrap_or_else(PoisonError::into_inner);
            // The dispatcher only ends with the bus, so a send cannot fail while we hold it.
            let _ = sender.send(events);
        }
    }
}

fn spawn_dispatcher(listeners: Arc<Listeners>) -> Sender<Vec<TaskHostEvent>> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("tasks-host-events".into())
        .spawn(move || dispatch(&listeners, &receiver));
    // Without a dispatcher thread the receiver is gone and events are dropped: listeners are
    // an observation channel, never part of running tasks.
    drop(spawned);
    sender
}

fn dispatch(listeners: &Listeners, receiver: &Receiver<Vec<TaskHostEvent>>) {
    while let Ok(events) = receiver.recv() {
        let host: Vec<HostListener> = listeners
            .host
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(_, listener)| Arc::clone(listener))
            .collect();
        let lifecycle: Vec<LifecycleListener> = listeners
            .lifecycle
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(_, listener)| Arc::clone(listener))
            .collect();
        for event in &events {
            for listener in &host {
                // A listener that panics loses this event, not its subscription nor the others.
                let _ = catch_unwind(AssertUnwindSafe(|| listener(event)));
            }
            if lifecycle.is_empty() {
                continue;
            }
            if let Some(lifecycle_event) = event.to_lifecycle() {
                for listener in &lifecycle {
                    let _ = catch_unwind(AssertUnwindSafe(|| listener(&lifecycle_event)));
                }
            }
        }
    }
}
