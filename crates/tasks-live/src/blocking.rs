//! [`StoreHandle`]: every store call the hub makes goes through here, onto tokio's blocking
//! pool, never a runtime worker.
//!
//! Stores are blocking clients; the synchronous `postgres` client panics when called, or when
//! its connections are dropped, on a tokio worker thread. So each call runs in
//! `spawn_blocking`, and the hub's last reference to the store is dropped on a plain thread.
//! Public, so that other async front ends over a store (the web dashboard) use the same door.

use std::sync::Arc;

use tasks_core::{StoreError, TaskStore};

/// A shared store that is only ever called, and finally dropped, off the async runtime's
/// worker threads: each call runs on tokio's blocking pool, and the last clone hands the store
/// to a plain thread to drop.
#[derive(Clone)]
pub struct StoreHandle {
    holder: Arc<Holder>,
}

struct Holder {
    store: Option<Arc<dyn TaskStore>>,
}

impl StoreHandle {
    /// Wraps `store`.
    pub fn new(store: Arc<dyn TaskStore>) -> Self {
        StoreHandle { holder: Arc::new(Holder { store: Some(store) }) }
    }

    /// Whether the store has a change feed.
    pub(crate) fn has_change_feed(&self) -> bool {
        self.holder.store.as_ref().is_some_and(|store| store.capabilities().change_feed)
    }

    /// Runs `call` with the store on a blocking thread.
    ///
    /// # Errors
    ///
    /// The store's own error; [`StoreError::Backend`] when the call panicked or the runtime
    /// is shutting down.
    pub async fn call<T, F>(&self, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(&dyn TaskStore) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let Some(store) = self.holder.store.clone() else {
            return Err(StoreError::Backend { message: "the store is gone".into(), source: None });
        };
        // `store` (this clone) is dropped inside, on the blocking thread.
        match tokio::task::spawn_blocking(move || call(&*store)).await {
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
}

impl Drop for Holder {
    fn drop(&mut self) {
        let Some(store) = self.store.take() else { return };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Possibly on a runtime worker: a store's connections must not be closed here.
            let spawned = std::thread::Builder::new()
                .name("tasks-live-store-drop".into())
                .spawn(move || drop(store));
            // Without a thread, dropping here is the only option left.
            drop(spawned);
        } else {
            drop(store);
        }
    }
}
