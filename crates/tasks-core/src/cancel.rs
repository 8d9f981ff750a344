//! [`CancelSignal`] and [`CancelHandle`]: a runtime-free cancellation signal an executor
//! observes (poll [`CancelSignal::is_cancelled`] or await [`CancelSignal::cancelled`]) and the
//! host triggers.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

#[derive(Debug, Default)]
struct Shared {
    cancelled: AtomicBool,
    reason: Mutex<Option<String>>,
    wakers: Mutex<Vec<Waker>>,
}

/// The side that cancels. Cloning shares the signal.
#[derive(Clone, Debug, Default)]
pub struct CancelHandle {
    shared: Arc<Shared>,
}

/// The side that observes. Cloning shares the signal.
#[derive(Clone, Debug)]
pub struct CancelSignal {
    shared: Arc<Shared>,
}

impl CancelHandle {
    /// A new, untriggered signal.
    pub fn new() -> Self {
        CancelHandle::default()
    }

    /// The observing side.
    pub fn signal(&self) -> CancelSignal {
        CancelSignal { shared: Arc::clone(&self.shared) }
    }

    /// Triggers the signal with a reason; later calls keep the first reason.
    pub fn cancel(&self, reason: impl Into<String>) {
        {
            let mut slot = self.shared.reason.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_none() {
                *slot = Some(reason.into());
            }
        }
        self.shared.cancelled.store(true, Ordering::SeqCst);
        let wakers =
            std::mem::take(&mut *self.shared.wakers.lock().unwrap_or_else(PoisonError::into_inner));
        for waker in wakers {
            waker.wake();
        }
    }

    /// Whether the signal was triggered.
    pub fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::SeqCst)
    }
}

impl CancelSignal {
    /// A signal that never fires.
    pub fn never() -> Self {
        CancelHandle::new().signal()
    }

    /// Whether the signal was triggered.
    pub fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::SeqCst)
    }

    /// Why it was triggered.
    pub fn reason(&self) -> Option<String> {
        self.shared.reason.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// A future that resolves once the signal is triggered.
    pub fn cancelled(&self) -> Cancelled {
        Cancelled { shared: Arc::clone(&self.shared) }
    }
}

/// The future of [`CancelSignal::cancelled`].
#[derive(Debug)]
pub struct Cancelled {
    shared: Arc<Shared>,
}

impl Future for Cancelled {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.shared.cancelled.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        let mut wakers = self.shared.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        // Check again under the lock: a cancel between the first check and here has already
        // drained the wakers, so registering now would wait forever.
        if self.shared.cancelled.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        if !wakers.iter().any(|waker| waker.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct CountingWaker(AtomicUsize);
    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn wakes_the_waiter_and_keeps_the_first_reason() {
        let handle = CancelHandle::new();
        let signal = handle.signal();
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&counter));
        let mut cx = Context::from_waker(&waker);
        let mut future = signal.cancelled();
        assert!(Pin::new(&mut future).poll(&mut cx).is_pending());
        handle.cancel("user asked");
        handle.cancel("second");
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert!(Pin::new(&mut future).poll(&mut cx).is_ready());
        assert!(signal.is_cancelled());
        assert_eq!(signal.reason().as_deref(), Some("user asked"));
        assert!(!CancelSignal::never().is_cancelled());
    }
}
