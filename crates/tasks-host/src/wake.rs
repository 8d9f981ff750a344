//! [`ClaimWaker`]: what wakes the claim loop. A local enqueue, a store's notification, a task
//! finishing (a slot freed), a retry or delayed task coming due, and the poll interval all end
//! up here.
//!
//! Store notifications plug in through the same handle: whatever learns that tasks became
//! claimable (a Postgres `LISTEN` connection, a message bus, a file watcher) calls
//! [`ClaimWaker::wake`], from any thread; [`ClaimWaker::forward`] does it for every message of a
//! channel.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Most future wake-ups remembered; beyond them the poll interval takes over.
const MAX_DUE: usize = 4096;

/// Wakes the host's claim loop: tasks may have become claimable. Cheap to clone; callable from
/// any thread, inside a runtime or not; never blocks.
#[derive(Clone, Debug)]
pub struct ClaimWaker {
    pub(crate) state: Arc<WakeState>,
}

#[derive(Debug, Default)]
pub(crate) struct WakeState {
    /// Something may be claimable: the loop claims as soon as it has a free slot.
    pending: AtomicBool,
    /// Wakes the loop (to claim, or to re-check its slots).
    pub(crate) notify: Notify,
    /// When tasks known to this host come due (retries, delayed enqueues).
    due: Mutex<BinaryHeap<Reverse<Instant>>>,
}

impl ClaimWaker {
    pub(crate) fn new() -> Self {
        ClaimWaker { state: Arc::new(WakeState::default()) }
    }

    /// Tells the host that tasks may be claimable now.
    pub fn wake(&self) {
        self.state.pending.store(true, Ordering::SeqCst);
        self.state.notify.notify_one();
    }

    /// Wakes the host once for every message received on `receiver`, from a thread of its own,
    /// until every sender is gone. This is the hook for stores that announce new work on a
    /// channel (the Postgres store's `LISTEN` connection, say).
    ///
    /// # Errors
    ///
    /// When the thread cannot be started.
    pub fn forward<T: Send + 'static>(
        &self,
        receiver: std::sync::mpsc::Receiver<T>,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let waker = self.clone();
        std::thread::Builder::new().name("tasks-host-wake".into()).spawn(move || {
            while receiver.recv().is_ok() {
                waker.wake();
            }
        })
    }

    /// Wakes the loop without claiming: a slot was freed, so a claim held back for lack of
    /// slots may go ahead.
    pub(crate) fn nudge(&self) {
        self.state.notify.notify_one();
    }

    /// Wakes the host after `delay` (a retry or delayed task of its own coming due).
    pub(crate) fn wake_after(&self, delay: Duration) {
        let at = Instant::now() + delay;
        {
            let mut due = self.state.due.lock().unwrap_or_else(PoisonError::into_inner);
            if due.len() >= MAX_DUE {
                return;
            }
            due.push(Reverse(at));
        }
        self.state.notify.notify_one();
    }

    /// Takes the pending flag.
    pub(crate) fn take_pending(&self) -> bool {
        self.state.pending.swap(false, Ordering::SeqCst)
    }

    /// Marks a claim pending without waking anyone (the loop is already awake).
    pub(crate) fn set_pending(&self) {
        self.state.pending.store(true, Ordering::SeqCst);
    }

    /// The earliest future wake-up; wake-ups already due are turned into a pending claim.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut due = self.state.due.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(Reverse(at)) = due.peek().copied() {
            if at > now {
                return Some(at);
            }
            due.pop();
            self.state.pending.store(true, Ordering::SeqCst);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_messages_wake_the_host() {
        let waker = ClaimWaker::new();
        assert!(!waker.take_pending());
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = waker.forward(receiver).expect("a thread");
        sender.send(()).expect("sent");
        drop(sender);
        // The thread ends once every sender is gone, after waking for the one message.
        thread.join().expect("joined");
        assert!(waker.take_pending());
        assert!(!waker.take_pending(), "taking the flag clears it");
    }

    #[test]
    fn due_wake_ups_become_pending_once_due() {
        let waker = ClaimWaker::new();
        waker.wake_after(Duration::ZERO);
        waker.wake_after(Duration::from_secs(3600));
        let next = waker.next_due().expect("the later one remains");
        assert!(next > Instant::now());
        assert!(waker.take_pending(), "the due one made a claim pending");
    }
}
