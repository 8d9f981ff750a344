//! [`StoreCaller`]: every store call the host makes goes through here, onto tokio's blocking
//! pool, never a runtime worker.
//!
//! Stores are blocking clients. The synchronous `postgres` client drives a runtime of its own
//! and panics when called, or even dropped, on a tokio worker thread; a slow SQLite commit on
//! a worker would stall every task scheduled there. So each call runs in `spawn_blocking`, the
//! clock is read there (right before the call), and the host's last reference to the store is
//! dropped on a plain thread of its own.

use std::sync::Arc;

use tasks_core::{Clock, StoreError, TaskStore, Timestamp};

/// Runs store calls on blocking threads.
#[derive(Clone)]
pub(crate) struct StoreCaller {
    holder: Arc<StoreHolder>,
    clock: Arc<dyn Clock>,
}

/// Owns the host's reference to the store, to drop it off the runtime.
struct StoreHolder {
    store: Option<Arc<dyn TaskStore>>,
}

impl StoreCaller {
    pub(crate) fn new(store: Arc<dyn TaskStore>, clock: Arc<dyn Clock>) -> Self {
        StoreCaller { holder: Arc::new(StoreHolder { store: Some(store) }), clock }
    }

    /// The store (for synchronous reads of its capabilities only).
    pub(crate) fn store(&self) -> Option<&Arc<dyn TaskStore>> {
        self.holder.store.as_ref()
    }

    /// The current time of the host's clock.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Runs `call` with the store and the current time on a blocking thread.
    pub(crate) async fn call<T, F>(&self, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(&dyn TaskStore, Timestamp) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let Some(store) = self.holder.store.clone() else {
            return Err(StoreError::Backend { message: "the store is gone".into(), source: None });
        };
        let clock = Arc::clone(&self.clock);
        let joined = tokio::task::spawn_blocking(move || {
            let now = clock.now();
            // `store` (this clone) is dropped here, on the blocking thread.
            call(&*store, now)
        })
        .await;
        match joined {
            Ok(result) => result,
            Err(error) => Err(StoreError::Backend {
                message: if error.is_panic() {
                    "a store call panicked".to_owned()
                } else {
                    "a store call was cancelled (the runtime is shutting down)".to_owned()
                },
                source: None,
            }),
        }
    }

    /// Runs `call` with the store and the clock on a blocking thread, without waiting for it:
    /// for a loop that answers its callers itself and reads the time before each of its store
    /// calls (a burst writer). A panic in `call` ends it there; `call` must leave its shared
    /// state right on unwinding (a drop guard).
    ///
    /// Returns `false`, without running `call`, when there is no store any more.
    pub(crate) fn spawn_session<F>(&self, call: F) -> bool
    where
        F: FnOnce(&dyn TaskStore, &dyn Clock) + Send + 'static,
    {
        let Some(store) = self.holder.store.clone() else { return false };
        let clock = Arc::clone(&self.clock);
        // The handle is dropped: the loop answers its callers, and tokio keeps a panic to the
        // blocking thread. `store` (this clone) is dropped on the blocking thread.
        drop(tokio::task::spawn_blocking(move || call(&*store, &*clock)));
        true
    }
}

impl Drop for StoreHolder {
    fn drop(&mut self) {
        let Some(store) = self.store.take() else { return };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Inside a runtime (possibly on a worker): a store's connections must not be closed
            // here. A plain thread has no runtime context.
            let spawned = std::thread::Builder::new()
                .name("tasks-host-store-drop".into())
                .spawn(move || drop(store));
            if let Err(error) = spawned {
                // No thread to be had: dropping here is the only option left.
                drop(error);
            }
        } else {
            drop(store);
        }
    }
}
