//! A task leaving a subscriber's filter reaches that subscriber, whatever the hub last saw of
//! it: the hub decides from what the subscriber holds (its bootstrap, and what it was sent
//! since), not from the hub's own memory of the task. The follower only reads when a test
//! asks ([`support::quiet_hub`]), so the races below happen in a fixed order.

mod support;

use std::sync::Arc;

use tasks_core::{
    LifecycleEventName, LifecycleState, SubscriptionQuery, TaskFilter, TaskLiveMessage, TaskStore,
};
use tasks_live::{HubOptions, LiveSource, SubscribeOptions, TaskLiveHub};

use support::stores::{self, TestStore};
use support::{
    Client, Recorder, assert_converged, blocking, claim_and_start, enqueue, finish, now, quiet_hub,
    runtime,
};

fn running() -> SubscriptionQuery {
    SubscriptionQuery {
        filter: TaskFilter { states: vec![LifecycleState::Running], ..TaskFilter::default() },
        ..SubscriptionQuery::default()
    }
}

/// The hub last saw the task queued; a subscriber's bootstrap then read it running; it
/// finishes before the follower reads again, so the follower goes from "queued" straight to
/// "succeeded", neither in the subscriber's filter. The subscriber must still hear it left.
fn bootstrap_ahead_of_the_hub(test: &TestStore) {
    let store = Arc::clone(&test.store);
    runtime().block_on(async {
        let hub = quiet_hub(&store);
        let everything = Recorder::new();
        let all = hub.subscribe(SubscriptionQuery::default(), everything.listener()).await;
        let _all = all.expect("sub");
        let s = Arc::clone(&store);
        let task = blocking(move || enqueue(&*s, "render", "scope:a", 1).remove(0)).await;
        hub.catch_up().await.expect("caught up");
        assert_eq!(everything.state().snapshots[0].state, LifecycleState::Queued, "hub saw it");

        let s = Arc::clone(&store);
        let leases = blocking(move || claim_and_start(&*s, "r1")).await;
        let watcher = Recorder::new();
        let query = running();
        let _running = hub.subscribe(query.clone(), watcher.listener()).await.expect("sub");
        assert_eq!(watcher.state().snapshots.len(), 1, "{}: the bootstrap holds it", test.name);
        assert_eq!(watcher.state().snapshots[0].task_id, task.id);

        let s = Arc::clone(&store);
        blocking(move || finish(&*s, &leases[0], 0)).await;
        hub.catch_up().await.expect("caught up");
        assert!(
            watcher.state().snapshots.is_empty(),
            "{}: the finished task left the running set",
            test.name
        );
        assert!(watcher.messages().iter().any(|message| matches!(
            message,
            TaskLiveMessage::Event { event, .. } if event.event == LifecycleEventName::Succeeded
        )));
        let fresh = blocking(move || support::fresh(&*store, &query)).await;
        assert_converged(&watcher.state(), &fresh, test.name);
    });
}

#[test]
fn memory_a_task_held_from_the_bootstrap_is_told_when_it_leaves() {
    bootstrap_ahead_of_the_hub(&stores::memory());
}

#[test]
fn sqlite_a_task_held_from_the_bootstrap_is_told_when_it_leaves() {
    bootstrap_ahead_of_the_hub(&stores::sqlite());
}

/// As above, but the subscriber disconnects after its bootstrap and resumes with its cursor:
/// the replay is empty (nothing changed since), so the hub never learns what the client holds
/// and must not decide from its own lagging memory either.
fn resumed_subscriber_ahead_of_the_hub(test: &TestStore) {
    let store = Arc::clone(&test.store);
    runtime().block_on(async {
        let hub = quiet_hub(&store);
        let everything = Recorder::new();
        let _all = hub.subscribe(SubscriptionQuery::default(), everything.listener()).await;
        let s = Arc::clone(&store);
        blocking(move || enqueue(&*s, "render", "scope:a", 1)).await;
        hub.catch_up().await.expect("caught up");
        let s = Arc::clone(&store);
        let leases = blocking(move || claim_and_start(&*s, "r1")).await;

        // One client: a tracker and the last cursor it was given, across two connections.
        let client = Client::default();
        let watcher = &client.recorder;
        let query = running();
        let first = hub
            .subscribe_updates(SubscribeOptions::new(query.clone()), client.listener())
            .await
            .expect("sub");
        assert_eq!(watcher.state().snapshots.len(), 1, "{}: the bootstrap holds it", test.name);
        drop(first);
        let cursor = client.cursor();
        assert!(cursor.is_some(), "{}: the bootstrap carried a cursor", test.name);
        let options = SubscribeOptions::new(query.clone()).resume_from(cursor);
        let _again = hub.subscribe_updates(options, client.listener()).await.expect("resumed");

        let s = Arc::clone(&store);
        blocking(move || finish(&*s, &leases[0], 0)).await;
        hub.catch_up().await.expect("caught up");
        assert!(
            watcher.state().snapshots.is_empty(),
            "{}: the resumed client heard the task leave the running set",
            test.name
        );
        let fresh = blocking(move || support::fresh(&*store, &query)).await;
        assert_converged(&watcher.state(), &fresh, test.name);
    });
}

#[test]
fn memory_a_resumed_subscriber_hears_a_held_task_leave() {
    resumed_subscriber_ahead_of_the_hub(&stores::memory());
}

#[test]
fn sqlite_a_resumed_subscriber_hears_a_held_task_leave() {
    resumed_subscriber_ahead_of_the_hub(&stores::sqlite());
}

#[test]
fn a_task_the_subscriber_never_held_is_not_sent_when_it_changes_outside_the_filter() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    runtime().block_on(async {
        let hub = quiet_hub(&store);
        let watcher = Recorder::new();
        let query = running();
        let _sub = hub.subscribe(query.clone(), watcher.listener()).await.expect("sub");
        let s = Arc::clone(&store);
        blocking(move || {
            let tasks = enqueue(&*s, "render", "scope:a", 2);
            s.cancel(&tasks[0].id, Some("not needed"), now()).expect("cancel");
        })
        .await;
        hub.catch_up().await.expect("caught up");
        assert_eq!(
            watcher.messages().len(),
            1,
            "queued and cancelled tasks never were running: only the bootstrap"
        );
        let s = Arc::clone(&store);
        blocking(move || claim_and_start(&*s, "r1")).await;
        hub.catch_up().await.expect("caught up");
        assert_eq!(watcher.state().snapshots.len(), 1, "the started one came in");
        let fresh = blocking(move || support::fresh(&*store, &query)).await;
        assert_converged(&watcher.state(), &fresh, "never held");
    });
}

/// Past the bound on what the hub records a subscriber holds, the hub also sends the tasks it
/// last saw inside the filter: the subscriber still hears every task leave, the one its
/// bootstrap read ahead of the hub (recorded) and those sent live past the bound.
#[test]
fn past_its_record_capacity_a_subscriber_still_hears_tasks_leave() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    runtime().block_on(async {
        let options = HubOptions::default()
            .held_capacity(0)
            .poll_interval(std::time::Duration::from_secs(3600));
        let hub = TaskLiveHub::new(LiveSource::store_arc(Arc::clone(&store)).options(options))
            .expect("hub");
        let everything = Recorder::new();
        let all = hub.subscribe(SubscriptionQuery::default(), everything.listener()).await;
        let _all = all.expect("sub");
        let s = Arc::clone(&store);
        blocking(move || enqueue(&*s, "render", "scope:a", 1)).await;
        hub.catch_up().await.expect("caught up");
        let s = Arc::clone(&store);
        let mut leases = blocking(move || claim_and_start(&*s, "r1")).await;

        // A bootstrap of one task: the record holds exactly that one.
        let query = SubscriptionQuery { limit: Some(1), ..running() };
        let watcher = Recorder::new();
        let _sub = hub.subscribe(query.clone(), watcher.listener()).await.expect("sub");
        assert_eq!(watcher.state().snapshots.len(), 1);
        let s = Arc::clone(&store);
        leases.extend(
            blocking(move || {
                enqueue(&*s, "render", "scope:a", 3);
                claim_and_start(&*s, "r1")
            })
            .await,
        );
        hub.catch_up().await.expect("caught up");
        assert_eq!(watcher.state().snapshots.len(), 4, "three more, sent but not recorded");

        let s = Arc::clone(&store);
        blocking(move || {
            for (n, lease) in leases.iter().enumerate() {
                finish(&*s, lease, n);
            }
        })
        .await;
        hub.catch_up().await.expect("caught up");
        assert!(watcher.state().snapshots.is_empty(), "every finished task left");
        let fresh = blocking(move || support::fresh(&*store, &query)).await;
        assert_converged(&watcher.state(), &fresh, "past capacity");
    });
}
