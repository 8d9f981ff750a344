//! Hub behaviour on the in-memory store: bootstrap first, then events; unsubscribe on drop;
//! filters; the spec's JSON shape; errors by kind.

mod support;

use std::sync::Arc;

use tasks_core::{
    Capabilities, LifecycleEventName, LifecycleState, SubscriptionQuery, TaskFilter,
    TaskLiveMessage, TaskStore,
};
use tasks_live::{LiveErrorKind, LiveSource, SubscribeOptions, TaskLiveHub};

use support::{Recorder, claim_and_start, enqueue, finish, runtime, work};

fn names(messages: &[TaskLiveMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|message| match message {
            TaskLiveMessage::Bootstrap(_) => "bootstrap".to_owned(),
            TaskLiveMessage::Event { event, .. } => event.event.as_str().to_owned(),
        })
        .collect()
}

#[test]
fn a_subscriber_gets_the_bootstrap_then_events_in_revision_order() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    let before = enqueue(&*store, "report", "scope:a", 1);
    runtime().block_on(async {
        let hub = TaskLiveHub::new(LiveSource::store_arc(Arc::clone(&store))).expect("hub");
        let recorder = Recorder::new();
        let query = SubscriptionQuery { recent_steps: Some(10), ..SubscriptionQuery::default() };
        let _subscription = hub.subscribe(query.clone(), recorder.listener()).await.expect("sub");
        let after = enqueue(&*store, "report", "scope:a", 1);
        hub.catch_up().await.expect("caught up");
        let leases = claim_and_start(&*store, "r1");
        hub.catch_up().await.expect("caught up");
        let lease = leases.iter().find(|lease| lease.task_id == after[0].id).expect("claimed");
        work(&*store, lease, 0);
        hub.catch_up().await.expect("caught up");
        work(&*store, lease, 2);
        hub.catch_up().await.expect("caught up");
        finish(&*store, lease, 0);
        hub.catch_up().await.expect("caught up");

        let messages = recorder.messages();
        let TaskLiveMessage::Bootstrap(bootstrap) = &messages[0] else { panic!("bootstrap first") };
        assert_eq!(bootstrap.snapshots.len(), 1);
        assert_eq!(bootstrap.snapshots[0].task_id, before[0].id);
        assert!(bootstrap.cursor.is_some(), "a store with a feed gives a cursor");
        let of_after: Vec<&TaskLiveMessage> = messages[1..]
            .iter()
            .filter(|m| matches!(m, TaskLiveMessage::Event { event, .. } if event.task_id == after[0].id))
            .collect();
        let owned: Vec<TaskLiveMessage> = of_after.iter().map(|m| (*m).clone()).collect();
        assert_eq!(
            names(&owned),
            vec!["enqueued", "started", "progress", "step", "step", "step", "succeeded"]
        );
        let mut last = 0;
        for message in &owned {
            let TaskLiveMessage::Event { event, .. } = message else { panic!("one bootstrap") };
            assert!(event.revision >= last, "revisions never go back");
            assert_eq!(Some(event.revision), event.snapshot.as_ref().map(|s| s.revision));
            last = event.revision;
        }
        support::assert_converged(&recorder.state(), &support::fresh(&*store, &query), "memory");
    });
}

#[test]
fn dropping_the_subscription_unsubscribes() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    runtime().block_on(async {
        let hub = TaskLiveHub::new(LiveSource::store_arc(Arc::clone(&store))).expect("hub");
        let recorder = Recorder::new();
        let subscription =
            hub.subscribe(SubscriptionQuery::default(), recorder.listener()).await.expect("sub");
        assert_eq!(hub.subscriber_count(), 1);
        drop(subscription);
        assert_eq!(hub.subscriber_count(), 0);
        enqueue(&*store, "report", "scope:a", 3);
        hub.catch_up().await.expect("caught up");
        assert_eq!(recorder.messages().len(), 1, "only the bootstrap");
    });
}

#[test]
fn subscribers_hear_only_their_tasks_and_hear_when_one_leaves() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    runtime().block_on(async {
        let hub = TaskLiveHub::new(LiveSource::store_arc(Arc::clone(&store))).expect("hub");
        let by_channel = Recorder::new();
        let running = Recorder::new();
        let channel = SubscriptionQuery {
            filter: TaskFilter { channels: vec![" scope:a ".into()], ..TaskFilter::default() },
            ..SubscriptionQuery::default()
        };
        let states = SubscriptionQuery {
            filter: TaskFilter { states: vec![LifecycleState::Running], ..TaskFilter::default() },
            ..SubscriptionQuery::default()
        };
        let _a = hub.subscribe(channel.clone(), by_channel.listener()).await.expect("sub");
        let _b = hub.subscribe(states.clone(), running.listener()).await.expect("sub");
        enqueue(&*store, "report", "scope:a", 2);
        enqueue(&*store, "report", "scope:b", 2);
        let leases = claim_and_start(&*store, "r1");
        hub.catch_up().await.expect("caught up");
        assert_eq!(by_channel.state().snapshots.len(), 2);
        assert!(by_channel.state().snapshots.iter().all(|s| s.channels == ["scope:a"]));
        assert_eq!(running.state().snapshots.len(), 4);
        for (n, lease) in leases.iter().enumerate() {
            finish(&*store, lease, n);
        }
        hub.catch_up().await.expect("caught up");
        assert!(running.state().snapshots.is_empty(), "finished tasks left the running set");
        assert!(running.messages().iter().any(|message| matches!(
            message,
            TaskLiveMessage::Event { event, .. } if event.event == LifecycleEventName::Succeeded
        )));
        support::assert_converged(&by_channel.state(), &support::fresh(&*store, &channel), "ch");
        support::assert_converged(&running.state(), &support::fresh(&*store, &states), "states");
    });
}

#[test]
fn messages_have_the_spec_json_shape() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    runtime().block_on(async {
        let hub = TaskLiveHub::new(LiveSource::store_arc(Arc::clone(&store))).expect("hub");
        let recorder = Recorder::new();
        let _sub =
            hub.subscribe(SubscriptionQuery::default(), recorder.listener()).await.expect("sub");
        enqueue(&*store, "report", "scope:a", 1);
        hub.catch_up().await.expect("caught up");
        let messages = recorder.messages();
        let bootstrap = serde_json::to_value(&messages[0]).expect("json");
        assert_eq!(bootstrap["type"], "bootstrap");
        for key in ["query", "snapshots", "steps", "aggregate", "timestamp"] {
            assert!(bootstrap.get(key).is_some(), "bootstrap has {key}");
        }
        let event = serde_json::to_value(&messages[1]).expect("json");
        assert_eq!(event["type"], "event");
        assert_eq!(event["event"]["type"], "task.lifecycle");
        assert_eq!(event["event"]["event"], "enqueued");
        assert_eq!(event["event"]["revision"], 1);
        assert_eq!(event["event"]["snapshot"]["progress"]["state"], "queued");
        let back: TaskLiveMessage = serde_json::from_value(event).expect("reads back");
        assert_eq!(back, messages[1]);
    });
}

#[test]
fn bad_queries_and_sources_are_refused_by_kind() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    let outside = TaskLiveHub::new(LiveSource::store_arc(Arc::clone(&store)));
    assert_eq!(outside.err().map(|e| e.kind()), Some(LiveErrorKind::NoRuntime));
    runtime().block_on(async {
        let no_feed: Arc<dyn TaskStore> = Arc::new(NoFeed(tasks_testkit::MemoryStore::new()));
        let refused = TaskLiveHub::new(LiveSource::store_arc(no_feed));
        assert_eq!(refused.err().map(|e| e.kind()), Some(LiveErrorKind::NoEvents));
        let hub = TaskLiveHub::new(LiveSource::store_arc(Arc::clone(&store))).expect("hub");
        let bad = SubscriptionQuery {
            filter: TaskFilter { channels: vec!["has space".into()], ..TaskFilter::default() },
            ..SubscriptionQuery::default()
        };
        let error = hub.subscribe(bad.clone(), |_| {}).await.expect_err("refused");
        assert_eq!(error.kind(), LiveErrorKind::InvalidQuery);
        let error = hub.bootstrap(bad).await.expect_err("refused");
        assert_eq!(error.kind(), LiveErrorKind::InvalidQuery);
        assert_eq!(hub.subscriber_count(), 0, "a refused subscription leaves nothing behind");
        let resumed = hub
            .subscribe_updates(
                SubscribeOptions::new(SubscriptionQuery::default())
                    .resume_from(Some(tasks_core::ChangeCursor::new("not-a-cursor"))),
                |_| {},
            )
            .await;
        assert!(resumed.is_ok(), "an unknown cursor gets a fresh bootstrap, not an error");
    });
}

/// A store hiding its change feed.
struct NoFeed(tasks_testkit::MemoryStore);

impl std::ops::Deref for NoFeed {
    type Target = tasks_testkit::MemoryStore;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

macro_rules! forward {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $(fn $name(&self, $($arg: $ty),*) -> $ret { self.0.$name($($arg),*) })*
    };
}

impl TaskStore for NoFeed {
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
    }
    forward! {
        enqueue(task: tasks_core::NewTask, now: tasks_core::Timestamp) -> Result<tasks_core::EnqueueOutcome, tasks_core::StoreError>;
        enqueue_batch(tasks: Vec<tasks_core::NewTask>, now: tasks_core::Timestamp) -> Result<Vec<tasks_core::EnqueueOutcome>, tasks_core::StoreError>;
        get(id: &tasks_core::TaskId) -> Result<Option<tasks_core::TaskRecord>, tasks_core::StoreError>;
        list(query: &tasks_core::TaskListQuery) -> Result<Vec<tasks_core::TaskRecord>, tasks_core::StoreError>;
        aggregate(filter: &TaskFilter) -> Result<tasks_core::TaskAggregate, tasks_core::StoreError>;
        list_steps(id: &tasks_core::TaskId, query: &tasks_core::StepQuery) -> Result<Vec<tasks_core::StepRecord>, tasks_core::StoreError>;
        claim(request: &tasks_core::ClaimRequest, now: tasks_core::Timestamp) -> Result<Vec<tasks_core::TaskRecord>, tasks_core::StoreError>;
        start(lease: &tasks_core::Lease, now: tasks_core::Timestamp) -> Result<tasks_core::TaskRecord, tasks_core::StoreError>;
        heartbeat(lease: &tasks_core::Lease, lease_for: std::time::Duration, now: tasks_core::Timestamp) -> Result<tasks_core::TaskRecord, tasks_core::StoreError>;
        set_progress(lease: &tasks_core::Lease, update: &tasks_core::ProgressUpdate, now: tasks_core::Timestamp) -> Result<tasks_core::TaskRecord, tasks_core::StoreError>;
        append_steps(lease: &tasks_core::Lease, steps: &[tasks_core::NewStep], now: tasks_core::Timestamp) -> Result<tasks_core::AppendedSteps, tasks_core::StoreError>;
        complete(lease: &tasks_core::Lease, output: serde_json::Value, now: tasks_core::Timestamp) -> Result<tasks_core::TaskRecord, tasks_core::StoreError>;
        fail(lease: &tasks_core::Lease, error: tasks_core::TaskError, retry_at: Option<tasks_core::Timestamp>, now: tasks_core::Timestamp) -> Result<tasks_core::TaskRecord, tasks_core::StoreError>;
        acknowledge_cancel(lease: &tasks_core::Lease, reason: Option<&str>, now: tasks_core::Timestamp) -> Result<tasks_core::TaskRecord, tasks_core::StoreError>;
        release(lease: &tasks_core::Lease, now: tasks_core::Timestamp) -> Result<tasks_core::TaskRecord, tasks_core::StoreError>;
        cancel(id: &tasks_core::TaskId, reason: Option<&str>, now: tasks_core::Timestamp) -> Result<tasks_core::TaskRecord, tasks_core::StoreError>;
        recover_expired(limit: u32, now: tasks_core::Timestamp) -> Result<Vec<tasks_core::TaskRecord>, tasks_core::StoreError>;
        mark_stale(silent_for: std::time::Duration, reason: &str, limit: u32, now: tasks_core::Timestamp) -> Result<Vec<tasks_core::TaskRecord>, tasks_core::StoreError>;
        compact(policy: &tasks_core::RetentionPolicy, now: tasks_core::Timestamp) -> Result<tasks_core::RetentionReport, tasks_core::StoreError>;
    }
}
