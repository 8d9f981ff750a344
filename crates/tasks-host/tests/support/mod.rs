//! Helpers shared by the host's integration tests: running a scenario on a store fixture,
//! recording events and waiting on them, fast runner options, and a wrapping store that
//! counts, checks or bends calls.

#![allow(dead_code)]

pub(crate) mod fixture;
pub(crate) mod recorder;
pub(crate) mod wrap;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tasks_core::{TaskStore, TaskStoreExt};
use tasks_host::RunnerOptions;

pub(crate) use fixture::{Fixture, run};
pub(crate) use recorder::Recorder;
pub(crate) use wrap::{STARTED, Wrapped};

/// How long any wait in a test may take before the test fails: generous, so a loaded 2-core
/// machine never flakes; a passing test never waits this long.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// Runner options with short intervals, so tests wait on events for milliseconds.
pub(crate) fn fast_options(runner: &str) -> RunnerOptions {
    RunnerOptions::default()
        .runner_id(runner)
        .concurrency(4)
        .lease(Duration::from_secs(30))
        .heartbeat(Duration::from_millis(25))
        .poll_interval(Duration::from_millis(25))
        .watchdog(None)
        .watchdog_scan_interval(Duration::from_millis(20))
        .stale_scan_interval(Duration::from_secs(3600))
        .stop_timeout(Duration::from_secs(5))
        .cancel_grace(Duration::from_secs(5))
        .progress_flush_interval(Duration::from_millis(10))
}

/// Runs a synchronous store call on a blocking thread, as the host does: a test talking to a
/// Postgres store from async code must not block a runtime worker either.
pub(crate) async fn blocking<T: Send + 'static>(
    store: &Arc<dyn TaskStore>,
    call: impl FnOnce(&dyn TaskStore) -> T + Send + 'static,
) -> T {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || call(&*store)).await.expect("the store call ran")
}

/// Waits until `check` holds, looking again every few milliseconds; fails after [`PATIENCE`].
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Reads a task's record (it must exist).
pub(crate) async fn record(
    store: &Arc<dyn TaskStore>,
    id: &tasks_core::TaskId,
) -> tasks_core::TaskRecord {
    let id = id.clone();
    blocking(store, move |store| store.get(&id))
        .await
        .expect("the store answers")
        .expect("the task exists")
}

/// Reads a task's snapshot with its recent steps.
pub(crate) async fn snapshot(
    store: &Arc<dyn TaskStore>,
    id: &tasks_core::TaskId,
    steps: u32,
) -> tasks_core::TaskSnapshot {
    let id = id.clone();
    let options = tasks_core::SnapshotOptions { include_steps: Some(steps) };
    blocking(store, move |store| store.read_snapshot(&id, &options))
        .await
        .expect("the store answers")
        .expect("the task exists")
}
