//! What compaction does to live subscribers: a deleted task is not told (the live message
//! shape has no deletion) and stays with a subscriber until its next bootstrap; a follower
//! whose feed position the store pruned gives every subscriber a fresh bootstrap and loses
//! nothing.

mod support;

use std::sync::Arc;
use std::time::Duration;

use tasks_core::{
    LifecycleState, RetentionPolicy, StoreErrorKind, SubscriptionQuery, TaskFilter,
    TaskLiveMessage, TaskStore,
};

use tasks_live::TrackerState;
use tokio::task::JoinHandle;

use support::{
    Recorder, assert_converged, blocking, claim_and_start, enqueue, finish, now, quiet_hub,
    runtime, work,
};

/// A fresh read of `query`, off the runtime's workers.
fn fresh(store: &Arc<dyn TaskStore>, query: &SubscriptionQuery) -> JoinHandle<TrackerState> {
    let (store, query) = (Arc::clone(store), query.clone());
    tokio::task::spawn_blocking(move || support::fresh(&*store, &query))
}

#[test]
fn a_deleted_task_stays_with_a_subscriber_until_its_next_bootstrap() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    runtime().block_on(async {
        let hub = quiet_hub(&store);
        let query = SubscriptionQuery::default();
        let watcher = Recorder::new();
        let _sub = hub.subscribe(query.clone(), watcher.listener()).await.expect("sub");
        let s = Arc::clone(&store);
        let leases = blocking(move || {
            enqueue(&*s, "render", "scope:a", 2);
            let leases = claim_and_start(&*s, "r1");
            finish(&*s, &leases[0], 0);
            leases
        })
        .await;
        hub.catch_up().await.expect("caught up");
        assert_eq!(watcher.state().snapshots.len(), 2);

        // Retention deletes the finished task; the feed records the deletion.
        let s = Arc::clone(&store);
        let report = blocking(move || {
            let policy =
                RetentionPolicy { success_ttl: Some(Duration::ZERO), ..RetentionPolicy::default() };
            s.compact(&policy, now()).expect("compact")
        })
        .await;
        assert_eq!(report.deleted_tasks, 1);
        let heard = watcher.messages().len();
        hub.catch_up().await.expect("caught up");
        assert_eq!(watcher.messages().len(), heard, "no message tells a deletion");
        assert_eq!(watcher.state().snapshots.len(), 2, "the deleted task is still held");
        let now_fresh = fresh(&store, &query).await.expect("read");
        assert_eq!(now_fresh.snapshots.len(), 1, "a fresh read no longer has it");

        // The next bootstrap (here a new subscription) drops it; updates go on meanwhile.
        let s = Arc::clone(&store);
        blocking(move || finish(&*s, &leases[1], 1)).await;
        hub.catch_up().await.expect("caught up");
        let held = watcher.state();
        let failed = held.snapshots.iter().filter(|s| s.state == LifecycleState::Failed).count();
        assert_eq!(failed, 1, "the other task's update still arrived");
        let again = Recorder::new();
        let _again = hub.subscribe(query.clone(), again.listener()).await.expect("sub");
        let after = fresh(&store, &query).await.expect("read");
        assert_converged(&again.state(), &after, "after a new bootstrap");
        assert_eq!(again.state().snapshots.len(), 1);
    });
}

#[test]
fn a_follower_whose_cursor_expired_resyncs_every_subscriber_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Keep only a few changes, so the follower's position falls out quickly.
    let store: Arc<dyn TaskStore> =
        Arc::new(support::stores::open_sqlite(&dir.path().join("tasks.sqlite"), Some(5)));
    runtime().block_on(async {
        let hub = quiet_hub(&store);
        let all = SubscriptionQuery { recent_steps: Some(100), ..SubscriptionQuery::default() };
        let running = SubscriptionQuery {
            filter: TaskFilter { states: vec![LifecycleState::Running], ..TaskFilter::default() },
            recent_steps: Some(100),
            ..SubscriptionQuery::default()
        };
        let (everything, active) = (Recorder::new(), Recorder::new());
        let sub = hub.subscribe(all.clone(), everything.listener()).await.expect("sub");
        let _active = hub.subscribe(running.clone(), active.listener()).await.expect("sub");
        let s = Arc::clone(&store);
        blocking(move || enqueue(&*s, "render", "scope:a", 3)).await;
        hub.catch_up().await.expect("caught up");
        assert_eq!(everything.state().snapshots.len(), 3);
        let position = sub.cursor().expect("the follower's position");

        // While the follower sleeps: work, a finish, new tasks, and a compaction that prunes
        // the feed past the follower's position.
        let s = Arc::clone(&store);
        let leases = blocking(move || {
            let leases = claim_and_start(&*s, "r1");
            for (n, lease) in leases.iter().enumerate() {
                work(&*s, lease, n + 2);
            }
            finish(&*s, &leases[0], 0);
            enqueue(&*s, "render", "scope:a", 20);
            s.compact(&RetentionPolicy::default(), now()).expect("compact prunes the feed");
            assert_eq!(
                s.read_changes(Some(&position), 10).map(|_| ()).map_err(|e| e.kind()),
                Err(StoreErrorKind::CursorExpired),
                "the follower's position is gone"
            );
            leases
        })
        .await;
        hub.catch_up().await.expect("an expired position is not an error");
        for (recorder, what) in [(&everything, "everything"), (&active, "running")] {
            recorder
                .wait_for_messages(what, |messages| {
                    messages.iter().filter(|m| matches!(m, TaskLiveMessage::Bootstrap(_))).count()
                        == 2
                })
                .await;
        }
        let expected = fresh(&store, &all).await.expect("read");
        assert_converged(&everything.state(), &expected, "everything, resynced");
        assert_eq!(everything.state().snapshots.len(), 23);
        let expected = fresh(&store, &running).await.expect("read");
        assert_converged(&active.state(), &expected, "running, resynced");

        // After the resync the follower goes on from its new position.
        let s = Arc::clone(&store);
        blocking(move || {
            for (n, lease) in leases.iter().enumerate().skip(1) {
                finish(&*s, lease, n);
            }
        })
        .await;
        hub.catch_up().await.expect("caught up");
        let expected = fresh(&store, &all).await.expect("read");
        assert_converged(&everything.state(), &expected, "everything, after");
        let expected = fresh(&store, &running).await.expect("read");
        assert_converged(&active.state(), &expected, "running, after");
        assert!(active.state().snapshots.is_empty(), "every task finished");
        assert_eq!(everything.bootstraps(), 2);
        assert_eq!(active.bootstraps(), 2);
    });
}
