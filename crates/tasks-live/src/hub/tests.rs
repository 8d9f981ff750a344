//! A transport's resync ([`Resync`]): the fresh bootstrap goes through the subscription's own
//! listener, and the hub's record of what the subscriber holds starts again from it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tasks_core::{
    ClaimRequest, LifecycleEventName, LifecycleState, NewTask, SubscriptionQuery, TaskFilter,
    TaskLiveMessage, TaskStore, Timestamp,
};

use crate::{LiveSource, TaskLiveHub};

#[test]
fn a_resync_bootstraps_through_the_subscription_and_records_what_it_holds() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    runtime.block_on(async {
        // The follower reads only when asked.
        let source =
            LiveSource::store_arc(Arc::clone(&store)).poll_interval(Duration::from_secs(3600));
        let hub = TaskLiveHub::new(source).expect("hub");
        let heard = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&heard);
        let query = SubscriptionQuery {
            filter: TaskFilter { states: vec![LifecycleState::Running], ..TaskFilter::default() },
            ..SubscriptionQuery::default()
        };
        let subscription = hub
            .subscribe(query, move |message| sink.lock().expect("heard").push(message.clone()))
            .await
            .expect("sub");
        let now = Timestamp::now_utc;
        let task = store.enqueue(NewTask::new("k", json!({})), now()).expect("enqueue").task;
        hub.catch_up().await.expect("caught up");
        // The hub saw the task queued; it starts, unseen by the follower.
        let request = ClaimRequest::new("r1", 1, Duration::from_secs(600));
        let claimed = store.claim(&request, now()).expect("claim");
        let lease = claimed.first().and_then(|record| record.lease()).expect("claimed");
        store.start(&lease, now()).expect("start");

        subscription.resync_handle().resync().await.expect("resynced");
        let bootstraps: Vec<usize> = heard
            .lock()
            .expect("heard")
            .iter()
            .filter_map(|message| match message {
                TaskLiveMessage::Bootstrap(bootstrap) => Some(bootstrap.snapshots.len()),
                TaskLiveMessage::Event { .. } => None,
            })
            .collect();
        assert_eq!(bootstraps, vec![0, 1], "the resync's bootstrap came through the listener");

        // It finishes before the follower reads again: still outside the filter as far as
        // the hub's memory goes, but the resynced subscriber holds it.
        store.complete(&lease, json!({}), now()).expect("complete");
        hub.catch_up().await.expect("caught up");
        let last = heard.lock().expect("heard").last().cloned();
        assert!(
            matches!(&last, Some(TaskLiveMessage::Event { event, .. })
                if event.event == LifecycleEventName::Succeeded && event.task_id == task.id),
            "the subscriber heard its task leave: {last:?}"
        );
    });
}
