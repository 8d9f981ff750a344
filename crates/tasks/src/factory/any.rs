//! [`AnyTaskStore`]: the store the factory returns, whichever driver made it, and
//! [`StoreListener`], a running wake-up listener of a store that announces new work.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use tasks_core::TaskStore;

use super::driver::Driver;
use super::error::StoreFactoryError;

/// A store chosen at run time: SQLite, PostgreSQL, or any other [`TaskStore`].
///
/// It dereferences to `dyn TaskStore`, so every store method (and every [`TaskStoreExt`]
/// helper) is called on it directly, and [`AnyTaskStore::into_arc`] hands the store to a host
/// (`TaskHost::builder_from_arc`) or a live hub (`LiveSource::store_arc`). It does not
/// implement `TaskStore` by forwarding method by method: a forwarding list would silently
/// miss a method the trait gains later and fall back to its default, while core's own
/// `Arc<dyn TaskStore>` forwarding grows with the trait.
///
/// Cheap to clone. Like the stores inside it, it blocks: call it from a blocking thread in
/// async code, and let the last handle to a PostgreSQL store go on such a thread too.
///
/// [`TaskStoreExt`]: tasks_core::TaskStoreExt
#[derive(Clone)]
pub struct AnyTaskStore {
    store: Arc<dyn TaskStore>,
    backend: Backend,
}

/// What the store is, for the driver-specific extras.
#[derive(Clone)]
enum Backend {
    #[cfg(feature = "sqlite")]
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres(tasks_store_postgres::PostgresTaskStore),
    Other,
}

impl AnyTaskStore {
    /// Wraps a store of any kind (a third-party store, the testkit's `MemoryStore`...).
    pub fn other(store: Arc<dyn TaskStore>) -> Self {
        AnyTaskStore { store, backend: Backend::Other }
    }

    /// The driver that made this store; `None` for [`AnyTaskStore::other`].
    pub fn driver(&self) -> Option<Driver> {
        match self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => Some(Driver::Sqlite),
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => Some(Driver::Postgres),
            Backend::Other => None,
        }
    }

    /// The store, shared.
    pub fn as_arc(&self) -> &Arc<dyn TaskStore> {
        &self.store
    }

    /// The store, for a host (`TaskHost::builder_from_arc`) or a live hub
    /// (`LiveSource::store_arc`).
    pub fn into_arc(self) -> Arc<dyn TaskStore> {
        self.store
    }

    /// Calls `on_wake` whenever any process sharing the store enqueues work, for a store that
    /// announces it (PostgreSQL's `LISTEN`); `None` for stores that do not (their readers
    /// poll). Hand a host's `waker()` or a live hub's `feed_waker()` to it.
    ///
    /// Blocks while it connects: call it from a blocking thread in async code.
    ///
    /// # Errors
    ///
    /// The store's error when the listening connection cannot be made.
    pub fn listen(
        &self,
        on_wake: impl Fn() + Send + 'static,
    ) -> Result<Option<StoreListener>, StoreFactoryError> {
        #[cfg(feature = "postgres")]
        if let Backend::Postgres(store) = &self.backend {
            let listener = store.listen(on_wake)?;
            return Ok(Some(StoreListener { inner: Listener::Postgres(listener) }));
        }
        drop(on_wake);
        Ok(None)
    }
}

impl Deref for AnyTaskStore {
    type Target = dyn TaskStore;

    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

impl From<AnyTaskStore> for Arc<dyn TaskStore> {
    fn from(store: AnyTaskStore) -> Self {
        store.into_arc()
    }
}

impl fmt::Debug for AnyTaskStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnyTaskStore").field("driver", &self.driver()).finish_non_exhaustive()
    }
}

#[cfg(feature = "sqlite")]
impl From<tasks_store_sqlite::SqliteTaskStore> for AnyTaskStore {
    fn from(store: tasks_store_sqlite::SqliteTaskStore) -> Self {
        AnyTaskStore { store: Arc::new(store), backend: Backend::Sqlite }
    }
}

#[cfg(feature = "postgres")]
impl From<tasks_store_postgres::PostgresTaskStore> for AnyTaskStore {
    fn from(store: tasks_store_postgres::PostgresTaskStore) -> Self {
        AnyTaskStore { store: Arc::new(store.clone()), backend: Backend::Postgres(store) }
    }
}

/// A running wake-up listener ([`AnyTaskStore::listen`]). Dropping it stops listening soon;
/// [`StoreListener::stop`] waits until it has.
#[derive(Debug)]
pub struct StoreListener {
    inner: Listener,
}

#[derive(Debug)]
enum Listener {
    #[cfg(feature = "postgres")]
    Postgres(tasks_store_postgres::WakeupListener),
}

impl StoreListener {
    /// Stops listening and waits for the listening thread to end (blocks briefly).
    pub fn stop(self) {
        match self.inner {
            #[cfg(feature = "postgres")]
            Listener::Postgres(listener) => listener.stop(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tasks_core::{NewTask, Timestamp};

    #[test]
    fn any_store_wraps_and_forwards() {
        let store = AnyTaskStore::other(Arc::new(tasks_testkit::MemoryStore::new()));
        assert_eq!(store.driver(), None);
        let now = Timestamp::from_millis(1_000);
        let queued = store.enqueue(NewTask::new("k", serde_json::json!(1)), now).expect("ok");
        let shared: Arc<dyn TaskStore> = store.clone().into();
        assert_eq!(shared.get(&queued.task.id).expect("read").map(|t| t.kind), Some("k".into()));
        assert!(store.listen(|| {}).expect("no listener needed").is_none());
        assert!(format!("{store:?}").contains("AnyTaskStore"));
    }
}
