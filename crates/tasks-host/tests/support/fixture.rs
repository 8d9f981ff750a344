//! Store fixtures and the runner of one scenario on one: a fresh store per test, a
//! multi-threaded runtime (two workers, like the machine), and the fixture dropped after the
//! runtime, outside any runtime context (a Postgres guard must not be dropped on a worker).

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use tasks_core::TaskStore;

/// A store under test with whatever must outlive it.
pub(crate) struct Fixture {
    pub(crate) store: Arc<dyn TaskStore>,
    pub(crate) guard: Box<dyn Any>,
}

impl Fixture {
    /// A fixture needing no guard.
    pub(crate) fn plain(store: impl TaskStore + 'static) -> Self {
        Fixture { store: Arc::new(store), guard: Box::new(()) }
    }
}

/// Runs `scenario` on a fresh store from `factory`; a factory that yields nothing (no server
/// for this store here) skips the scenario, saying so.
pub(crate) fn run<F, Fut>(name: &str, factory: fn() -> Option<Fixture>, scenario: F)
where
    F: FnOnce(Arc<dyn TaskStore>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(fixture) = factory() else {
        eprintln!("SKIPPED {name}: this store is not available here");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(scenario(Arc::clone(&fixture.store)));
    drop(runtime);
    drop(fixture);
}
