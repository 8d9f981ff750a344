//! The SSE endpoint with a real HTTP client: bootstrap then events, resume by `Last-Event-ID`,
//! JSON queries, authorization refusals and narrowing, bad queries, and a slow client that
//! gets a resync while the server's buffer stays bounded.

mod http_support;
mod support;

use std::sync::Arc;

use axum::http::request::Parts;
use serde_json::json;
use tasks_core::{
    EnqueueOptions, NewTask, SubscriptionQuery, TaskFilter, TaskLiveMessage, TaskStore,
};
use tasks_live::TaskLiveTracker;
use tasks_live::http::{Authorization, BridgeOptions, TASKS_LIVE_JS, allow_all};

use http_support::{SseClient, serve};
use support::{assert_converged, blocking, claim_and_start, enqueue, finish, now, work};

fn memory() -> Arc<dyn TaskStore> {
    Arc::new(tasks_testkit::MemoryStore::new())
}

/// Reads events into `tracker` until it equals a fresh read of `query`.
async fn read_until_converged(
    client: &mut SseClient,
    tracker: &mut TaskLiveTracker,
    store: &Arc<dyn TaskStore>,
    query: &SubscriptionQuery,
) -> Vec<http_support::SseEvent> {
    let (s, q) = (Arc::clone(store), query.clone());
    let fresh = blocking(move || support::fresh(&*s, &q)).await;
    let mut seen = Vec::new();
    while tracker.state().snapshots != fresh.snapshots || tracker.state().steps != fresh.steps {
        let event = client.expect_next().await;
        tracker.apply(&event.message);
        seen.push(event);
    }
    assert_converged(&tracker.state(), &fresh, "sse");
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_streams_a_bootstrap_then_events_and_resumes_by_last_event_id() {
    let store = memory();
    let server = serve(Arc::clone(&store), allow_all(), BridgeOptions::default()).await;
    let http = reqwest::Client::new();
    let s = Arc::clone(&store);
    blocking(move || enqueue(&*s, "render", "scope:a", 2)).await;

    let url = format!("{}/events?kinds=render&recentSteps=100", server.base);
    let response = http.get(&url).send().await.expect("connected");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut client = SseClient::new(response);
    let mut tracker = TaskLiveTracker::new();
    let first = client.expect_next().await;
    assert!(matches!(first.message, TaskLiveMessage::Bootstrap(_)));
    assert!(first.id.is_some(), "the bootstrap carries the feed cursor");
    tracker.apply(&first.message);

    let s = Arc::clone(&store);
    let leases = blocking(move || {
        let leases = claim_and_start(&*s, "r1");
        for (n, lease) in leases.iter().enumerate() {
            work(&*s, lease, n + 2);
        }
        leases
    })
    .await;
    let query = SubscriptionQuery {
        filter: TaskFilter { kinds: vec!["render".into()], ..TaskFilter::default() },
        recent_steps: Some(100),
        ..SubscriptionQuery::default()
    };
    let seen = read_until_converged(&mut client, &mut tracker, &store, &query).await;
    let last_id = std::iter::once(&first)
        .chain(seen.iter())
        .filter_map(|event| event.id.clone())
        .next_back()
        .expect("an id");
    drop(client);

    // Away: more writes. Back with Last-Event-ID: events only, nothing missed.
    let s = Arc::clone(&store);
    blocking(move || {
        for lease in &leases {
            work(&*s, lease, 2);
        }
        finish(&*s, &leases[0], 0);
        enqueue(&*s, "render", "scope:a", 1);
    })
    .await;
    let response =
        http.get(&url).header("last-event-id", last_id).send().await.expect("reconnected");
    let mut client = SseClient::new(response);
    let seen = read_until_converged(&mut client, &mut tracker, &store, &query).await;
    assert!(seen.iter().all(|event| matches!(event.message, TaskLiveMessage::Event { .. })));
    assert_eq!(tracker.state().snapshots.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_json_query_works_and_bad_queries_get_400() {
    let store = memory();
    let server = serve(Arc::clone(&store), allow_all(), BridgeOptions::default()).await;
    let s = Arc::clone(&store);
    blocking(move || {
        enqueue(&*s, "render", "scope:a", 2);
        enqueue(&*s, "mail", "scope:a", 3);
    })
    .await;
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}/events", server.base))
        .json(&json!({ "kinds": ["mail"], "includeAggregate": true }))
        .send()
        .await
        .expect("posted");
    let mut client = SseClient::new(response);
    let TaskLiveMessage::Bootstrap(bootstrap) = client.expect_next().await.message else {
        panic!("a bootstrap first")
    };
    assert_eq!(bootstrap.snapshots.len(), 3);
    assert_eq!(bootstrap.aggregate.map(|a| a.total), Some(3));

    for bad in ["states=sleeping", "channels=has%20space", "limit=many"] {
        let response =
            http.get(format!("{}/events?{bad}", server.base)).send().await.expect("answered");
        assert_eq!(response.status(), 400, "{bad}");
    }
    let response = http
        .post(format!("{}/events", server.base))
        .body("{not json")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 400);

    let script = http.get(format!("{}/tasks-live.js", server.base)).send().await.expect("js");
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"].to_str().expect("ascii").starts_with("text/javascript")
    );
    assert_eq!(script.text().await.expect("body"), TASKS_LIVE_JS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_hook_refuses_and_narrows() {
    let store = memory();
    // Callers need a token; `scope:secret` is for admins only; others see `scope:public` only.
    let authorizer = |request: &Parts, query: &SubscriptionQuery| {
        let token = request.headers.get("authorization").and_then(|v| v.to_str().ok());
        match token {
            Some("Bearer admin") => Authorization::Allow,
            Some("Bearer user") if query.filter.channels.iter().any(|c| c == "scope:secret") => {
                Authorization::Deny
            }
            Some("Bearer user") => {
                let mut narrowed = query.clone();
                narrowed.filter.channels = vec!["scope:public".into()];
                Authorization::narrow(narrowed)
            }
            _ => Authorization::Deny,
        }
    };
    let server = serve(Arc::clone(&store), authorizer, BridgeOptions::default()).await;
    let s = Arc::clone(&store);
    blocking(move || {
        enqueue(&*s, "render", "scope:public", 2);
        enqueue(&*s, "render", "scope:secret", 3);
    })
    .await;
    let http = reqwest::Client::new();
    let url = format!("{}/events", server.base);

    let anonymous = http.get(&url).send().await.expect("answered");
    assert_eq!(anonymous.status(), 403);
    assert!(anonymous.bytes().await.expect("body").is_empty(), "no data");
    let secret = http
        .get(format!("{url}?channels=scope:secret"))
        .header("authorization", "Bearer user")
        .send()
        .await
        .expect("answered");
    assert_eq!(secret.status(), 403);
    assert!(secret.bytes().await.expect("body").is_empty(), "no data");
    assert_eq!(server.hub.subscriber_count(), 0, "nothing subscribed for a refusal");

    let user = http.get(&url).header("authorization", "Bearer user").send().await.expect("ok");
    let TaskLiveMessage::Bootstrap(bootstrap) = SseClient::new(user).expect_next().await.message
    else {
        panic!("a bootstrap")
    };
    assert_eq!(bootstrap.snapshots.len(), 2, "narrowed to the public channel");
    let admin = http
        .get(format!("{url}?channels=scope:secret"))
        .header("authorization", "Bearer admin")
        .send()
        .await
        .expect("ok");
    let TaskLiveMessage::Bootstrap(bootstrap) = SseClient::new(admin).expect_next().await.message
    else {
        panic!("a bootstrap")
    };
    assert_eq!(bootstrap.snapshots.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_gets_a_resync_and_the_buffer_stays_bounded() {
    const BUFFER: usize = 16;
    let store = memory();
    let server =
        serve(Arc::clone(&store), allow_all(), BridgeOptions::default().buffer(BUFFER)).await;
    let http = reqwest::Client::new();
    let url = format!("{}/events?limit=1000", server.base);
    let mut client = SseClient::new(http.get(&url).send().await.expect("connected"));
    let mut tracker = TaskLiveTracker::new();
    tracker.apply(&client.expect_next().await.message);

    // The client stops reading while many large updates are sent: more than the socket
    // buffers and the connection's queue hold together.
    let payload = "x".repeat(48 * 1024);
    for n in 0..400 {
        let (s, payload) = (Arc::clone(&store), payload.clone());
        blocking(move || {
            let task = NewTask::new("big", json!({ "n": n, "payload": payload }))
                .with_options(EnqueueOptions::new().channel("scope:a"));
            s.enqueue(task, now()).expect("enqueued");
        })
        .await;
        server.hub.catch_up().await.expect("delivered");
    }
    let stats = server.bridge.stats();
    assert!(stats.resyncs >= 1, "the slow client was resynced: {stats:?}");
    assert!(stats.max_queued <= BUFFER, "the queue stayed bounded: {stats:?}");

    // Reading again: a fresh bootstrap arrives, and the client ends up with everything.
    let query = SubscriptionQuery { limit: Some(1000), ..SubscriptionQuery::default() };
    let seen = read_until_converged(&mut client, &mut tracker, &store, &query).await;
    assert!(
        seen.iter().any(|event| matches!(event.message, TaskLiveMessage::Bootstrap(_))),
        "a resync bootstrap"
    );
    assert_eq!(tracker.state().snapshots.len(), 400);
}
