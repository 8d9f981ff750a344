//! Shared test helpers: stores, a worker that drives tasks through a store, trackers fed by a
//! hub, and the convergence check (a tracker equals a fresh read).

#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tasks_core::ChangeCursor;
use tasks_core::{
    ClaimRequest, EnqueueOptions, Lease, NewStep, NewTask, ProgressUpdate, SubscriptionQuery,
    TaskError, TaskLiveMessage, TaskRecord, TaskStore, TaskStoreExt, Timestamp,
};
use tasks_live::{LiveSource, LiveUpdate, TaskLiveHub, TaskLiveTracker, TrackerState};

pub mod counting;
pub mod stores;

/// Runs synchronous store work on a blocking thread (a Postgres store must not block a
/// runtime worker).
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.expect("blocking work")
}

/// Time as the stores see it (writes take `now`; leases are long, so wall time is fine).
pub fn now() -> Timestamp {
    Timestamp::now_utc()
}

/// A multi-threaded runtime of two workers (the machine has two cores).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A hub on `store`'s change feed whose follower reads only when asked ([`TaskLiveHub::catch_up`])
/// or woken by a new subscriber, so a test decides which writes it sees together. Call it
/// inside a runtime.
pub fn quiet_hub(store: &Arc<dyn TaskStore>) -> TaskLiveHub {
    let source = LiveSource::store_arc(Arc::clone(store)).poll_interval(Duration::from_secs(3600));
    TaskLiveHub::new(source).expect("hub")
}

/// Enqueues `count` tasks of `kind` on channel `channel`.
pub fn enqueue(store: &dyn TaskStore, kind: &str, channel: &str, count: usize) -> Vec<TaskRecord> {
    let tasks = (0..count)
        .map(|n| {
            NewTask::new(kind, json!({ "n": n }))
                .with_options(EnqueueOptions::new().channel(channel).max_attempts(1))
        })
        .collect();
    store
        .enqueue_batch(tasks, now())
        .expect("enqueue")
        .into_iter()
        .map(|outcome| outcome.task)
        .collect()
}

/// Claims and starts every due task (of any kind); returns their leases.
pub fn claim_and_start(store: &dyn TaskStore, runner: &str) -> Vec<Lease> {
    let mut leases = Vec::new();
    loop {
        let request = ClaimRequest::new(runner, 100, Duration::from_secs(600));
        let claimed = store.claim(&request, now()).expect("claim");
        if claimed.is_empty() {
            return leases;
        }
        for record in claimed {
            let lease = record.lease().expect("a claimed task has a lease");
            store.start(&lease, now()).expect("start");
            leases.push(lease);
        }
    }
}

/// One worker write on a running task, chosen by `n`: progress, steps, or a heartbeat.
pub fn work(store: &dyn TaskStore, lease: &Lease, n: usize) {
    match n % 4 {
        0 | 1 => {
            let update = ProgressUpdate::percent((n % 100) as f64).label(format!("step {n}"));
            store.set_progress(lease, &update, now()).expect("progress");
        }
        2 => {
            let steps: Vec<NewStep> =
                (0..1 + n % 3).map(|k| NewStep::info(format!("write {n}.{k}"))).collect();
            store.append_steps(lease, &steps, now()).expect("steps");
        }
        _ => {
            store.heartbeat(lease, Duration::from_secs(600), now()).expect("heartbeat");
        }
    }
}

/// Finishes a task: succeeded when `n` is even, failed otherwise.
pub fn finish(store: &dyn TaskStore, lease: &Lease, n: usize) {
    if n.is_multiple_of(2) {
        store.complete(lease, json!({ "done": n }), now()).expect("complete");
    } else {
        store.fail(lease, TaskError::new("boom").with_code("boom"), None, now()).expect("fail");
    }
}

/// A recorder that also keeps the last cursor it was given, as an SSE client keeps its
/// `Last-Event-ID`.
#[derive(Clone, Default)]
pub struct Client {
    pub recorder: Recorder,
    last_cursor: Arc<Mutex<Option<ChangeCursor>>>,
}

impl Client {
    pub fn listener(&self) -> impl Fn(&LiveUpdate) + Send + Sync + 'static {
        let client = self.clone();
        move |update| {
            client.recorder.apply(update.message());
            if let Some(cursor) = update.cursor() {
                *client.last_cursor.lock().expect("cursor") = Some(cursor.clone());
            }
        }
    }

    pub fn cursor(&self) -> Option<ChangeCursor> {
        self.last_cursor.lock().expect("cursor").clone()
    }
}

/// A tracker fed by a listener, and every message it got.
#[derive(Clone)]
pub struct Recorder {
    pub tracker: Arc<Mutex<TaskLiveTracker>>,
    pub messages: Arc<Mutex<Vec<TaskLiveMessage>>>,
    heard: Arc<tokio::sync::watch::Sender<usize>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            tracker: Arc::default(),
            messages: Arc::default(),
            heard: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }
}

impl Recorder {
    pub fn new() -> Self {
        Recorder::default()
    }

    /// Waits (at most 20 s, then panics) until the tracker's state passes `done`.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&TrackerState) -> bool) {
        let mut heard = self.heard.subscribe();
        let wait = async {
            loop {
                if done(&self.state()) {
                    return;
                }
                heard.changed().await.expect("recorder alive");
            }
        };
        tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
    }

    /// Waits (at most 20 s, then panics) until the messages heard pass `done`.
    pub async fn wait_for_messages(&self, what: &str, done: impl Fn(&[TaskLiveMessage]) -> bool) {
        let mut heard = self.heard.subscribe();
        let wait = async {
            loop {
                if done(&self.messages()) {
                    return;
                }
                heard.changed().await.expect("recorder alive");
            }
        };
        tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
    }

    /// How many bootstraps were heard.
    pub fn bootstraps(&self) -> usize {
        let messages = self.messages.lock().expect("messages");
        messages.iter().filter(|m| matches!(m, TaskLiveMessage::Bootstrap(_))).count()
    }

    /// The listener to hand to `hub.subscribe`.
    pub fn listener(&self) -> impl Fn(&TaskLiveMessage) + Send + Sync + 'static {
        let recorder = self.clone();
        move |message| recorder.apply(message)
    }

    pub fn apply(&self, message: &TaskLiveMessage) {
        self.tracker.lock().expect("tracker").apply(message);
        self.messages.lock().expect("messages").push(message.clone());
        self.heard.send_modify(|count| *count += 1);
    }

    pub fn state(&self) -> TrackerState {
        self.tracker.lock().expect("tracker").state()
    }

    pub fn messages(&self) -> Vec<TaskLiveMessage> {
        self.messages.lock().expect("messages").clone()
    }
}

/// What a tracker holds after a fresh bootstrap of `query` read straight from the store.
pub fn fresh(store: &dyn TaskStore, query: &SubscriptionQuery) -> TrackerState {
    let mut query = query.clone();
    query.filter = query.filter.normalized().expect("valid query");
    let bootstrap = store.bootstrap(&query, now()).expect("bootstrap");
    let mut tracker = TaskLiveTracker::new();
    tracker.apply(&TaskLiveMessage::Bootstrap(bootstrap));
    tracker.state()
}

/// Asserts a live tracker converged on the fresh read: same snapshots (same revisions, same
/// content), same aggregate, and, per task, the fresh read's steps are the tracker's latest.
pub fn assert_converged(live: &TrackerState, fresh: &TrackerState, what: &str) {
    let revisions = |state: &TrackerState| -> Vec<(String, u64)> {
        state.snapshots.iter().map(|s| (s.task_id.to_string(), s.revision)).collect()
    };
    assert_eq!(revisions(live), revisions(fresh), "{what}: task ids and revisions");
    assert_eq!(live.snapshots, fresh.snapshots, "{what}: snapshots");
    assert_eq!(live.aggregate, fresh.aggregate, "{what}: aggregate");
    for (task, steps) in &fresh.steps {
        let held = live.steps.get(task).cloned().unwrap_or_default();
        let tail = &held[held.len().saturating_sub(steps.len())..];
        let seqs = |steps: &[tasks_core::StepRecord]| -> Vec<u64> {
            steps.iter().map(|step| step.seq).collect()
        };
        assert_eq!(seqs(tail), seqs(steps), "{what}: steps of {task}");
        assert_eq!(tail, &steps[..], "{what}: step content of {task}");
    }
}
