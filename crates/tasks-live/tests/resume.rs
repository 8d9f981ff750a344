//! Resume: a subscriber that comes back with the last cursor it saw misses nothing (it gets
//! the changed tasks as events, no bootstrap); one whose cursor is too old gets a fresh
//! bootstrap.

mod support;

use std::sync::{Arc, Mutex};

use tasks_core::{ChangeCursor, RetentionPolicy, SubscriptionQuery, TaskLiveMessage, TaskStore};
use tasks_live::{LiveSource, LiveUpdate, SubscribeOptions, TaskLiveHub};

use support::stores::{self, TestStore};
use support::{Recorder, assert_converged, claim_and_start, enqueue, finish, now, runtime, work};

/// A recorder that also keeps the last cursor it was given, as an SSE client keeps its
/// `Last-Event-ID`.
#[derive(Clone, Default)]
struct Client {
    recorder: Recorder,
    last_cursor: Arc<Mutex<Option<ChangeCursor>>>,
}

impl Client {
    fn listener(&self) -> impl Fn(&LiveUpdate) + Send + Sync + 'static {
        let client = self.clone();
        move |update| {
            client.recorder.apply(update.message());
            if let Some(cursor) = update.cursor() {
                *client.last_cursor.lock().expect("cursor") = Some(cursor.clone());
            }
        }
    }

    fn cursor(&self) -> Option<ChangeCursor> {
        self.last_cursor.lock().expect("cursor").clone()
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.expect("blocking work")
}

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
