//! No gap, no regression: hundreds of concurrent updates race several subscribes, and every
//! subscriber's tracker ends equal to a fresh read. On the in-memory store, SQLite and
//! PostgreSQL (skipped loudly without a server, a failure under `CI=true`).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tasks_core::{LifecycleState, SubscriptionQuery, TaskFilter, TaskStore};
use tasks_live::{LiveSource, TaskLiveHub};

use support::stores::{self, TestStore};
use support::{Recorder, assert_converged, claim_and_start, enqueue, finish, runtime, work};

const WRITERS: usize = 4;
const TASKS_PER_WRITER: usize = 6;
const WRITES_PER_TASK: usize = 30;

fn interleave(test: &TestStore) {
    let store = Arc::clone(&test.store);
    enqueue(&*store, "render", "scope:a", WRITERS * TASKS_PER_WRITER);
    enqueue(&*store, "other", "scope:b", 4);
    let leases = claim_and_start(&*store, "runner-1");
    let total = WRITERS * TASKS_PER_WRITER * WRITES_PER_TASK;
    let done = Arc::new(AtomicUsize::new(0));

    let queries = vec![
        SubscriptionQuery { recent_steps: Some(1000), ..SubscriptionQuery::default() },
        SubscriptionQuery {
            filter: TaskFilter { kinds: vec!["render".into()], ..TaskFilter::default() },
            recent_steps: Some(1000),
            ..SubscriptionQuery::default()
        },
        SubscriptionQuery {
            filter: TaskFilter { states: vec![LifecycleState::Running], ..TaskFilter::default() },
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
        // Subscribe at staggered points while the writers run.
        let mut subscribers = Vec::new();
        for (i, wave) in [0usize, total / 4, total / 2, total * 3 / 4].iter().enumerate() {
            while done.load(Ordering::SeqCst) < *wave {
                tokio::task::yield_now().await;
            }
            for query in &queries {
                let recorder = Recorder::new();
                let subscription =
                    hub.subscribe(query.clone(), recorder.listener()).await.expect("subscribe");
                subscribers.push((i, query.clone(), recorder, subscription));
            }
        }
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
