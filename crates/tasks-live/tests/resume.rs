//! Resume: a subscriber that comes back with the last cursor it saw misses nothing (it gets
//! the changed tasks as events, no bootstrap); one whose cursor is too old gets a fresh
//! bootstrap.

mod support;

use std::sync::Arc;

use tasks_core::{RetentionPolicy, SubscriptionQuery, TaskLiveMessage, TaskStore};
use tasks_live::{LiveSource, SubscribeOptions, TaskLiveHub};

use support::stores::{self, TestStore};
use support::{
    Client, assert_converged, blocking, claim_and_start, enqueue, finish, now, runtime, work,
};

fn resume_misses_nothing(test: &TestStore) {
    let store = Arc::clone(&test.store);
    runtime().block_on(async {
        let hub = TaskLiveHub::new(LiveSource::store_arc(Arc::clone(&store))).expect("hub");
        let query = SubscriptionQuery { recent_steps: Some(1000), ..SubscriptionQuery::default() };
        let client = Client::default();
        let options = SubscribeOptions::new(query.clone());
        let subscription = hub.subscribe_updates(options, client.listener()).await.expect("sub");
        let s = Arc::clone(&store);
        let leases = blocking(move || {
            enqueue(&*s, "render", "scope:a", 4);
            let leases = claim_and_start(&*s, "r1");
            for (n, lease) in leases.iter().enumerate() {
                work(&*s, lease, n);
            }
            leases
        })
        .await;
        hub.catch_up().await.expect("caught up");
        // The client resumes from the cursor its last message carried. The subscription's own
        // cursor may be further on (a page with nothing for this client still advances it), so
        // the two are not compared: either is a valid resume position.
        let cursor = client.cursor().expect("a cursor was delivered");
        assert!(subscription.cursor().is_some(), "a feed-backed subscription has a cursor");
        drop(subscription);
        let heard = client.recorder.messages().len();

        // While the client is away: progress, steps, finishes and new tasks.
        let s = Arc::clone(&store);
        blocking(move || {
            for round in 0..6 {
                for lease in &leases {
                    work(&*s, lease, round + 2);
                }
            }
            for (n, lease) in leases.iter().enumerate().take(3) {
                finish(&*s, lease, n);
            }
            enqueue(&*s, "render", "scope:a", 2);
        })
        .await;

        let options = SubscribeOptions::new(query.clone()).resume_from(Some(cursor));
        let _back = hub.subscribe_updates(options, client.listener()).await.expect("resumed");
        hub.catch_up().await.expect("caught up");
        let after: Vec<TaskLiveMessage> = client.recorder.messages()[heard..].to_vec();
        assert!(!after.is_empty());
        assert!(
            after.iter().all(|message| matches!(message, TaskLiveMessage::Event { .. })),
            "{}: a resume sends events, not a bootstrap",
            test.name
        );
        let fresh = blocking(move || support::fresh(&*store, &query)).await;
        assert_converged(&client.recorder.state(), &fresh, test.name);
        assert_eq!(fresh.snapshots.len(), 6);
    });
}

#[test]
fn memory_resume_with_the_last_cursor_misses_nothing() {
    resume_misses_nothing(&stores::memory());
}

#[test]
fn sqlite_resume_with_the_last_cursor_misses_nothing() {
    resume_misses_nothing(&stores::sqlite());
}

#[test]
fn postgres_resume_with_the_last_cursor_misses_nothing() {
    let Some(store) = stores::postgres() else { return };
    resume_misses_nothing(&store);
}

#[test]
fn a_cursor_too_old_gets_a_fresh_bootstrap() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Keep only a few changes, so a cursor falls out quickly.
    let store: Arc<dyn TaskStore> =
        Arc::new(stores::open_sqlite(&dir.path().join("tasks.sqlite"), Some(5)));
    runtime().block_on(async {
        let hub = TaskLiveHub::new(LiveSource::store_arc(Arc::clone(&store))).expect("hub");
        let query = SubscriptionQuery::default();
        let client = Client::default();
        let subscription = hub
            .subscribe_updates(SubscribeOptions::new(query.clone()), client.listener())
            .await
            .expect("sub");
        let cursor = client.cursor().expect("the bootstrap's cursor");
        drop(subscription);
        let s = Arc::clone(&store);
        blocking(move || {
            enqueue(&*s, "render", "scope:a", 30);
            s.compact(&RetentionPolicy::default(), now()).expect("compact prunes the feed");
            assert_eq!(
                s.read_changes(Some(&cursor), 10).map(|_| ()).map_err(|e| e.kind()),
                Err(tasks_core::StoreErrorKind::CursorExpired),
                "the cursor is gone"
            );
        })
        .await;
        let heard = client.recorder.messages().len();
        let options = SubscribeOptions::new(query.clone()).resume_from(client.cursor());
        let _back = hub.subscribe_updates(options, client.listener()).await.expect("resumed");
        let after = client.recorder.messages()[heard..].to_vec();
        assert!(matches!(after.first(), Some(TaskLiveMessage::Bootstrap(_))), "a fresh bootstrap");
        assert_eq!(client.recorder.state().snapshots.len(), 30);
        hub.catch_up().await.expect("caught up");
        let fresh = blocking(move || support::fresh(&*store, &query)).await;
        assert_converged(&client.recorder.state(), &fresh, "expired cursor");
    });
}

#[test]
fn a_resume_stops_reading_once_it_would_replay_more_tasks_than_its_limit() {
    let counting =
        Arc::new(support::counting::Counting::new(Arc::new(tasks_testkit::MemoryStore::new())));
    let store: Arc<dyn TaskStore> = counting.clone();
    runtime().block_on(async {
        let mut options = tasks_live::HubOptions::default();
        // Small pages, so reading the whole feed would take many (eleven for these changes).
        options.page_size = 5;
        let source = LiveSource::store_arc(Arc::clone(&store))
            .options(options)
            .poll_interval(std::time::Duration::from_secs(3600));
        let hub = TaskLiveHub::new(source).expect("hub");
        let query = SubscriptionQuery::default();
        let client = Client::default();
        let subscription = hub
            .subscribe_updates(SubscribeOptions::new(query.clone()), client.listener())
            .await
            .expect("sub");
        let cursor = client.cursor().expect("the bootstrap's cursor");
        drop(subscription);
        // With nobody subscribed, the follower drops its position: it reads on from the feed's
        // end when the client is back, and re-reads none of the changes below.
        hub.catch_up().await.expect("caught up");
        let s = Arc::clone(&store);
        blocking(move || enqueue(&*s, "render", "scope:a", 50)).await;

        let (gets, feed_reads) = (counting.gets(), counting.feed_reads());
        let heard = client.recorder.messages().len();
        let options =
            SubscribeOptions::new(query.clone()).resume_from(Some(cursor)).max_replay_messages(5);
        let _back = hub.subscribe_updates(options, client.listener()).await.expect("resumed");
        let after = client.recorder.messages()[heard..].to_vec();
        assert!(matches!(after.first(), Some(TaskLiveMessage::Bootstrap(_))), "a bootstrap");
        assert_eq!(counting.gets() - gets, 0, "no task re-read for a replay that is not sent");
        // The second page names a sixth task: the resume stops there. The follower, woken by
        // the new subscriber, may read a page or two of its own meanwhile.
        let reads = counting.feed_reads() - feed_reads;
        assert!(reads <= 4, "{reads} pages read: the resume read on past its limit");
        assert_eq!(client.recorder.state().snapshots.len(), 50);
    });
}

/// The hub never saw what a resumed client kept from before its disconnect: a task it held
/// then, unchanged since, must still reach it when it leaves the client's filter.
#[test]
fn a_resumed_subscriber_hears_a_task_it_held_from_before_leave_its_filter() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    runtime().block_on(async {
        let hub = support::quiet_hub(&store);
        let query = SubscriptionQuery {
            filter: tasks_core::TaskFilter {
                states: vec![tasks_core::LifecycleState::Running],
                ..tasks_core::TaskFilter::default()
            },
            ..SubscriptionQuery::default()
        };
        let client = Client::default();
        let subscription = hub
            .subscribe_updates(SubscribeOptions::new(query.clone()), client.listener())
            .await
            .expect("sub");
        let s = Arc::clone(&store);
        let leases = blocking(move || {
            enqueue(&*s, "render", "scope:a", 2);
            claim_and_start(&*s, "r1")
        })
        .await;
        hub.catch_up().await.expect("caught up");
        assert_eq!(client.recorder.state().snapshots.len(), 2);
        drop(subscription);

        // Back with its last cursor: nothing changed meanwhile, so nothing is replayed.
        let heard = client.recorder.messages().len();
        let options = SubscribeOptions::new(query.clone()).resume_from(client.cursor());
        let _back = hub.subscribe_updates(options, client.listener()).await.expect("resumed");
        assert_eq!(client.recorder.messages().len(), heard, "no bootstrap, nothing to replay");
        let s = Arc::clone(&store);
        blocking(move || {
            for (n, lease) in leases.iter().enumerate() {
                finish(&*s, lease, n);
            }
        })
        .await;
        hub.catch_up().await.expect("caught up");
        assert!(client.recorder.state().snapshots.is_empty(), "both left the running set");
        let fresh = blocking(move || support::fresh(&*store, &query)).await;
        assert_converged(&client.recorder.state(), &fresh, "resumed");
    });
}
