//! Async callers: the store used from inside current-thread and multi-thread tokio runtimes
//! through the documented path, `tokio::task::spawn_blocking` around every call (connecting
//! and dropping included), so no connection is ever run, checked out or dropped on a worker.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tasks_core::{ClaimRequest, NewTask, TaskStatus, TaskStore, Timestamp};
use tasks_store_postgres::PostgresTaskStore;
use tasks_store_postgres::testing::SchemaGuard;
use tasks_testkit::WithGuard;

const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

type Fixture = Arc<WithGuard<SchemaGuard, PostgresTaskStore>>;

/// Runs `f` on the store on a blocking thread.
async fn blocking<T: Send + 'static>(
    fixture: &Fixture,
    f: impl FnOnce(&PostgresTaskStore) -> T + Send + 'static,
) -> T {
    let fixture = Arc::clone(fixture);
    tokio::task::spawn_blocking(move || f(&fixture.store))
        .await
        .expect("the blocking call does not panic")
}

async fn lifecycle(fixture: &Fixture, n: usize) {
    let id =
        blocking(fixture, move |store| store.enqueue(NewTask::new(format!("k{n}"), json!(n)), T0))
            .await
            .expect("enqueue")
            .task
            .id;
    let kinds = vec![tasks_core::KindClaim::any(format!("k{n}"))];
    let claimed = blocking(fixture, move |store| {
        store.claim(&ClaimRequest::new("async", 1, Duration::from_secs(60)).kinds(kinds), T0)
    })
    .await
    .expect("claim");
    assert_eq!(claimed.len(), 1);
    let lease = claimed[0].lease().expect("lease");
    let done = blocking(fixture, move |store| store.complete(&lease, json!("ok"), T0))
        .await
        .expect("complete");
    assert_eq!((done.id, done.status), (id, TaskStatus::Succeeded));
}

async fn connect() -> Option<Fixture> {
    tokio::task::spawn_blocking(support::store)
        .await
        .expect("connect on a blocking thread")
        .map(Arc::new)
}

async fn close(fixture: Fixture) {
    // The last handle goes on a blocking thread too: dropping pooled connections is I/O.
    tokio::task::spawn_blocking(move || drop(fixture)).await.expect("drop");
}

#[tokio::test(flavor = "current_thread")]
async fn from_a_current_thread_runtime() {
    let Some(fixture) = connect().await else { return };
    lifecycle(&fixture, 0).await;
    close(fixture).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_a_multi_thread_runtime_with_concurrent_tasks() {
    let Some(fixture) = connect().await else { return };
    let runs: Vec<_> = (0..16)
        .map(|n| {
            let fixture = Arc::clone(&fixture);
            tokio::spawn(async move { lifecycle(&fixture, n).await })
        })
        .collect();
    for run in runs {
        run.await.expect("no task panics");
    }
    close(fixture).await;
}
