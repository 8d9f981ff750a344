//! No gap, no regression: hundreds of concurrent updates race several subscribes, and every
//! subscriber's tracker ends equal to a fresh read (a fresh bootstrap of the same query). On
//! the in-memory store, SQLite and PostgreSQL (skipped loudly without a server, a failure
//! under `CI=true`).
//!
//! Besides the writers, "late" tasks go from queued (which the hub sees) to running to
//! finished right around each wave of subscribes: a wave's bootstrap may read one running
//! that the hub last saw queued and that finishes before the follower reads again, so neither
//! state the follower knows is in a `running` subscriber's filter. That subscriber must
//! still hear the task leave.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use tasks_core::{ClaimRequest, LifecycleState, SubscriptionQuery, TaskFilter, TaskStore};
use tasks_live::{LiveSource, TaskLiveHub};

use support::stores::{self, TestStore};
use support::{Recorder, assert_converged, claim_and_start, enqueue, finish, now, runtime, work};

const WRITERS: usize = 4;
const TASKS_PER_WRITER: usize = 6;
const WRITES_PER_TASK: usize = 30;
/// Late tasks started and finished around each wave after the first.
const LATE_PER_WAVE: usize = 2;
const WAVES: usize = 4;

/// What the test tells the late writer.
enum Late {
    /// Enqueue every late task.
    Enqueue,
    /// Claim and start the next batch.
    Start,
    /// Finish the batch started last.
    Finish,
}

/// Drives the late tasks on command, answering each command once it is done.
fn late_writer(
    store: Arc<dyn TaskStore>,
    commands: mpsc::Receiver<Late>,
    done: tokio::sync::mpsc::UnboundedSender<()>,
) {
    let mut started = Vec::new();
    let mut finished = 0;
    for command in commands {
        match command {
            Late::Enqueue => {
                enqueue(&*store, "render", "scope:a", LATE_PER_WAVE * (WAVES - 1));
            }
            Late::Start => {
                let request = ClaimRequest::new(
                    "runner-late",
                    LATE_PER_WAVE as u32,
                    Duration::from_secs(600),
                );
                for record in store.claim(&request, now()).expect("claim") {
                    let lease = record.lease().expect("a claimed task has a lease");
                    store.start(&lease, now()).expect("start");
                    started.push(lease);
                }
            }
            Late::Finish => {
                for lease in started.drain(..) {
                    finish(&*store, &lease, finished);
                    finished += 1;
                }
            }
        }
        if done.send(()).is_err() {
            return;
        }
    }
}

fn interleave(test: &TestStore) {
    let store = Arc::clone(&test.store);
    enqueue(&*store, "render", "scope:a", WRITERS * TASKS_PER_WRITER);
    enqueue(&*store, "other", "scope:b", 4);
    let leases = claim_and_start(&*store, "runner-1");
    let total = WRITERS * TASKS_PER_WRITER * WRITES_PER_TASK;
    let done = Arc::new(AtomicUsize::new(0));

    // The `running` query first: it is the one subscribed between a late batch's start and
    // its finish.
    let queries = [
        SubscriptionQuery {
            filter: TaskFilter { states: vec![LifecycleState::Running], ..TaskFilter::default() },
            recent_steps: Some(1000),
            ..SubscriptionQuery::default()
        },
        SubscriptionQuery { recent_steps: Some(1000), ..SubscriptionQuery::default() },
        SubscriptionQuery {
            filter: TaskFilter { kinds: vec!["render".into()], ..TaskFilter::default() },
            recent_steps: Some(1000),
            ..SubscriptionQuery::default()
        },
    ];

    runtime().block_on(async {
        let source =
            LiveSource::store_arc(Arc::clone(&store)).poll_interval(Duration::from_millis(5));
        let hub = TaskLiveHub::new(source).expect("hub");
        // The writers: each owns some tasks and writes to them in turn; three quarters of the
        // tasks finish at the end, the others stay running.
        let mut writers = Vec::new();
        for (w, chunk) in leases.chunks(leases.len().div_ceil(WRITERS)).enumerate() {
            let (store, chunk, done) = (Arc::clone(&store), chunk.to_vec(), Arc::clone(&done));
            writers.push(std::thread::spawn(move || {
                for n in 0..WRITES_PER_TASK {
                    for lease in &chunk {
                        work(&*store, lease, n + w);
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                }
                for (n, lease) in chunk.iter().enumerate() {
                    if n % 4 != 3 {
                        finish(&*store, lease, n);
                    }
                }
            }));
        }
        let (commands, late_commands) = mpsc::channel();
        let (late_done, mut late_answers) = tokio::sync::mpsc::unbounded_channel();
        let late = {
            let store = Arc::clone(&store);
            std::thread::spawn(move || late_writer(store, late_commands, late_done))
        };
        let mut tell = async |command: Late| {
            commands.send(command).expect("late writer alive");
            late_answers.recv().await.expect("late writer answered");
        };
        // Subscribe at staggered points while the writers run.
        let mut subscribers = Vec::new();
        for i in 0..WAVES {
            while done.load(Ordering::SeqCst) < total * i / WAVES {
                tokio::task::yield_now().await;
            }
            if i > 0 {
                tell(Late::Start).await;
            }
            for (q, query) in queries.iter().enumerate() {
                let recorder = Recorder::new();
                let subscription =
                    hub.subscribe(query.clone(), recorder.listener()).await.expect("subscribe");
                subscribers.push((i, query.clone(), recorder, subscription));
                if i > 0 && q == 0 {
                    tell(Late::Finish).await;
                }
            }
            if i == 0 {
                // The hub sees the late tasks queued before any of them starts.
                tell(Late::Enqueue).await;
                hub.catch_up().await.expect("caught up");
            }
        }
        drop(commands);
        tokio::task::spawn_blocking(move || late.join().expect("late writer"))
            .await
            .expect("joined");
        for writer in writers {
            tokio::task::spawn_blocking(move || writer.join().expect("writer"))
                .await
                .expect("joined");
        }
        hub.catch_up().await.expect("caught up");
        for (wave, query, recorder, _subscription) in &subscribers {
            let fresh = {
                let (store, query) = (Arc::clone(&store), query.clone());
                tokio::task::spawn_blocking(move || support::fresh(&*store, &query))
                    .await
                    .expect("fresh read")
            };
            let what = format!("{}: wave {wave}, query {query:?}", test.name);
            assert!(!fresh.snapshots.is_empty(), "{what}: something to compare");
            assert_converged(&recorder.state(), &fresh, &what);
        }
        drop(subscribers);
        assert_eq!(hub.subscriber_count(), 0);
    });
    let _ = store.capabilities();
}

#[test]
fn memory_store_trackers_converge_on_a_fresh_read() {
    interleave(&stores::memory());
}

#[test]
fn sqlite_store_trackers_converge_on_a_fresh_read() {
    interleave(&stores::sqlite());
}

#[test]
fn postgres_store_trackers_converge_on_a_fresh_read() {
    let Some(store) = stores::postgres() else { return };
    interleave(&store);
    // The store's last handle must not drop on a runtime worker: this is a plain thread.
    drop(store);
}
