//! [`StoreFixture`]: what a conformance factory returns, so the suite can borrow a store from
//! it; and [`WithGuard`], a store bundled with something that must outlive it.

use tasks_core::TaskStore;

/// Something the conformance suite can borrow a store from.
///
/// Every store is its own fixture (including `Arc<dyn TaskStore>` and `Box<dyn TaskStore>`,
/// which are stores too); a store that needs company, such as the temporary directory holding
/// its database file, goes in a [`WithGuard`].
pub trait StoreFixture {
    /// The store under test.
    fn store(&self) -> &dyn TaskStore;
}

impl<T: TaskStore> StoreFixture for T {
    fn store(&self) -> &dyn TaskStore {
        self
    }
}

/// A store together with a guard that must live as long as it: a `tempfile::TempDir`, a test
/// database to drop afterwards, a server handle.
///
/// The store is declared first because fields drop in declaration order: the store closes
/// its files before the guard (say, the directory holding them) goes away.
///
/// ```
/// use tasks_testkit::{MemoryStore, StoreFixture, WithGuard};
///
/// // In real life the guard is a `tempfile::TempDir` holding the store's database file.
/// let fixture = WithGuard { store: MemoryStore::new(), guard: std::env::temp_dir() };
/// tasks_testkit::suite::enqueue_creates_queued_task(fixture.store());
/// ```
#[derive(Debug)]
pub struct WithGuard<G, S> {
    /// The store under test.
    pub store: S,
    /// Kept alive while the store is in use; dropped after it.
    pub guard: G,
}

impl<G, S: TaskStore> StoreFixture for WithGuard<G, S> {
    fn store(&self) -> &dyn TaskStore {
        &self.store
    }
}
