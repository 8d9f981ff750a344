//! [`StoreCaller`]: every store call the API makes goes through here, onto tokio's blocking
//! pool, never a runtime worker.
//!
//! Stores are blocking clients, and the synchronous `postgres` client panics when called, or
//! when its connections are dropped, on a tokio worker thread. So each call runs in
//! `spawn_blocking`, and the dashboard's last reference to the store is dropped on a plain
//! thread. (tasks-live and tasks-host keep the same few lines privately; a shared public
//! helper would belong in tasks-core, which does no async on purpose.)

use std::sync::Arc;

use tasks_core::{Clock, StoreError, TaskStore, Timestamp};

/// Runs store calls on blocking threads, and tells the time for the writes.
#[derive(Clone)]
pub(crate) struct StoreCaller {
    holder: Arc<Holder>,
    clock: Arc<dyn Clock>,
}

struct Holder {
    store: Option<Arc<dyn TaskStore>>,
}

impl StoreCaller {
    pub(crate) fn new(store: Arc<dyn TaskStore>, clock: Arc<dyn Clock>) -> Self {
        StoreCaller { holder: Arc::new(Holder { store: Some(store) }), clock }
    }

    /// The time to give the store for a write.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Runs `call` with the store on a blocking thread.
    pub(crate) async fn call<T, F>(&self, call: F) -> Result<T, StoreError>
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
                .name("tasks-dashboard-store-drop".into())
                .spawn(move || drop(store));
            // Without a thread, dropping here is the only option left.
            drop(spawned);
        } else {
            drop(store);
        }
    }
}
