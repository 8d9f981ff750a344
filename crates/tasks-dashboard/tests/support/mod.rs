//! Shared test helpers: stores (memory, SQLite on a temp file), a dashboard served on a
//! loopback port, a worker that drives tasks through the store by hand (so each test controls
//! the timing), and small HTTP helpers.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tasks_core::{
    ClaimRequest, EnqueueOptions, Lease, NewStep, NewTask, ProgressUpdate, TaskRecord, TaskStore,
    Timestamp,
};
use tasks_dashboard::DashboardOptions;
use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};
use tokio::sync::oneshot;

/// A store and the temp dir its file lives in (if any).
pub struct TestStore {
    pub store: Arc<dyn TaskStore>,
    _dir: Option<tempfile::TempDir>,
}

pub fn memory() -> TestStore {
    TestStore { store: Arc::new(tasks_testkit::MemoryStore::new()), _dir: None }
}

pub fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("a temp dir");
    let options = SqliteOptions::new(dir.path().join("tasks.sqlite"));
    let store = SqliteTaskStore::open(options).expect("a SQLite store");
    TestStore { store: Arc::new(store), _dir: Some(dir) }
}

/// Wall time: the stores take `now` as an argument; leases are long, so wall time is fine.
pub fn now() -> Timestamp {
    Timestamp::now_utc()
}

/// A dashboard served by `tasks_dashboard::serve` on a loopback port.
pub struct Server {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), tasks_dashboard::DashboardError>>>,
}

impl Server {
    /// Stops the server and waits (at most 30 s) for `serve` to return.
    pub async fn stop(mut self) -> Result<(), tasks_dashboard::DashboardError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("a running server");
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("serve returns after shutdown")
            .expect("the server task ends normally")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves a dashboard over `store` on 127.0.0.1 (a free port).
pub async fn serve(store: Arc<dyn TaskStore>, options: DashboardOptions) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let task = tokio::spawn(tasks_dashboard::serve(store, listener, options, shutdown));
    Server { base, stop: Some(stop), task: Some(task) }
}

/// Short poll intervals, so live updates reach the page quickly in tests.
pub fn fast() -> DashboardOptions {
    DashboardOptions::new().poll_interval(Duration::from_millis(20))
}

pub fn enqueue(
    store: &dyn TaskStore,
    kind: &str,
    input: Value,
    options: EnqueueOptions,
) -> TaskRecord {
    store.enqueue(NewTask::new(kind, input).with_options(options), now()).expect("enqueue").task
}

/// Claims one due task of `kind` for a worker and starts it.
pub fn claim_and_start(store: &dyn TaskStore, kind: &str) -> Lease {
    let request = ClaimRequest::new("test-worker", 1, Duration::from_secs(600))
        .kinds(vec![tasks_core::KindClaim::any(kind)]);
    let claimed = store.claim(&request, now()).expect("claim");
    let record = claimed.into_iter().next().expect("a due task of that kind");
    let lease = record.lease().expect("a claimed task has a lease");
    store.start(&lease, now()).expect("start");
    lease
}

pub fn progress(store: &dyn TaskStore, lease: &Lease, percent: f64, label: &str) -> TaskRecord {
    let update = ProgressUpdate::percent(percent).label(label);
    store.set_progress(lease, &update, now()).expect("progress")
}

pub fn step(store: &dyn TaskStore, lease: &Lease, message: &str) {
    store.append_steps(lease, &[NewStep::info(message)], now()).expect("a step");
}

/// A task that ran and failed for good (one attempt).
pub fn failed_task(store: &dyn TaskStore, kind: &str) -> TaskRecord {
    enqueue(store, kind, json!({}), EnqueueOptions::new().max_attempts(1));
    let lease = claim_and_start(store, kind);
    let error = tasks_core::TaskError::new("boom").with_code("test_failure");
    store.fail(&lease, error, None, now()).expect("fail")
}

/// An HTTP client that follows no redirects (the tests look at them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// The JSON of a response, with its status.
pub async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON, got {text:?}"));
    (status, value)
}

/// The `error.code` of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_else(|| panic!("an error body, got {body}"))
}

/// Polls `check` until it holds, failing the test after `seconds`.
pub async fn eventually<F, Fut>(seconds: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if check().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
