//! [`StoreCaller`]: every store call the API makes goes through tasks-live's
//! [`StoreHandle`] (onto tokio's blocking pool, never a runtime worker, and the last reference
//! dropped on a plain thread), together with the clock that dates the writes.

use std::sync::Arc;

use tasks_core::{Clock, StoreError, TaskStore, Timestamp};
use tasks_live::StoreHandle;

/// Runs store calls on blocking threads, and tells the time for the writes.
#[derive(Clone)]
pub(crate) struct StoreCaller {
    store: StoreHandle,
    clock: Arc<dyn Clock>,
}

impl StoreCaller {
    pub(crate) fn new(store: Arc<dyn TaskStore>, clock: Arc<dyn Clock>) -> Self {
        StoreCaller { store: StoreHandle::new(store), clock }
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
        self.store.call(call).await
    }
}
