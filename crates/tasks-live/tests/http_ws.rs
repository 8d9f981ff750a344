//! The WebSocket endpoint with a real client (tokio-tungstenite): bootstrap then events with
//! cursors, resume by `?cursor=`, authorization refusal before the upgrade, and a slow client
//! disconnected under the disconnect policy, then resuming without loss.

mod http_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use tasks_core::{EnqueueOptions, NewTask, SubscriptionQuery, TaskLiveMessage, TaskStore};
use tasks_live::TaskLiveTracker;
use tasks_live::http::{Authorization, BridgeOptions, SlowClient, allow_all};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use http_support::serve;
use support::{assert_converged, blocking, claim_and_start, enqueue, now, work};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn memory() -> Arc<dyn TaskStore> {
    Arc::new(tasks_testkit::MemoryStore::new())
}

fn ws_url(base: &str, query: &str) -> String {
    format!("{}/ws?{query}", base.replacen("http://", "ws://", 1))
}

/// The next live message and its cursor; `None` when the socket closed.
async fn next(socket: &mut Socket) -> Option<(TaskLiveMessage, Option<String>)> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("a frame in time")?;
        match frame {
            Ok(Message::Text(text)) => {
                let value: serde_json::Value = serde_json::from_str(&text).expect("json");
                let cursor = value.get("cursor").and_then(|c| c.as_str()).map(str::to_owned);
                let message = serde_json::from_value(value).expect("a live message");
                return Some((message, cursor));
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn read_until_converged(
    socket: &mut Socket,
    tracker: &mut TaskLiveTracker,
    cursor: &mut Option<String>,
    store: &Arc<dyn TaskStore>,
    query: &SubscriptionQuery,
) -> Vec<TaskLiveMessage> {
    let (s, q) = (Arc::clone(store), query.clone());
    let fresh = blocking(move || support::fresh(&*s, &q)).await;
    let mut seen = Vec::new();
    while tracker.state().snapshots != fresh.snapshots || tracker.state().steps != fresh.steps {
        let (message, at) = next(socket).await.expect("the socket stays open");
        tracker.apply(&message);
        if at.is_some() {
            *cursor = at;
        }
        seen.push(message);
    }
    assert_converged(&tracker.state(), &fresh, "ws");
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_streams_messages_with_cursors_and_resumes() {
    let store = memory();
    let server = serve(Arc::clone(&store), allow_all(), BridgeOptions::default()).await;
    let s = Arc::clone(&store);
    blocking(move || enqueue(&*s, "render", "scope:a", 2)).await;
    let query = SubscriptionQuery { recent_steps: Some(100), ..SubscriptionQuery::default() };
    let url = ws_url(&server.base, "recentSteps=100");
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.expect("upgraded");
    let mut tracker = TaskLiveTracker::new();
    let (first, mut cursor) = next(&mut socket).await.expect("a bootstrap");
    assert!(matches!(first, TaskLiveMessage::Bootstrap(_)));
    assert!(cursor.is_some());
    tracker.apply(&first);
    let s = Arc::clone(&store);
    let leases = blocking(move || {
        let leases = claim_and_start(&*s, "r1");
        for lease in &leases {
            work(&*s, lease, 2);
        }
        leases
    })
    .await;
    read_until_converged(&mut socket, &mut tracker, &mut cursor, &store, &query).await;
    drop(socket);

    let s = Arc::clone(&store);
    blocking(move || {
        for lease in &leases {
            work(&*s, lease, 0);
            work(&*s, lease, 2);
        }
    })
    .await;
    let cursor_text = cursor.clone().expect("a cursor to resume from");
    let url = ws_url(&server.base, &format!("recentSteps=100&cursor={cursor_text}"));
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.expect("upgraded");
    let seen = read_until_converged(&mut socket, &mut tracker, &mut cursor, &store, &query).await;
    assert!(seen.iter().all(|message| matches!(message, TaskLiveMessage::Event { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_websocket_gets_403_before_the_upgrade() {
    let store = memory();
    let deny_kind = |_: &axum::http::request::Parts, query: &SubscriptionQuery| {
        if query.filter.kinds.is_empty() { Authorization::Deny } else { Authorization::Allow }
    };
    let server = serve(Arc::clone(&store), deny_kind, BridgeOptions::default()).await;
    match tokio_tungstenite::connect_async(ws_url(&server.base, "")).await {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), 403);
            assert!(response.body().as_ref().is_none_or(|body| body.is_empty()), "no data");
        }
        Err(other) => panic!("expected a 403, got {other:?}"),
        Ok(_) => panic!("a refused query must not upgrade"),
    }
    assert_eq!(server.hub.subscriber_count(), 0);
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url(&server.base, "kinds=render"))
        .await
        .expect("allowed");
    assert!(matches!(next(&mut socket).await, Some((TaskLiveMessage::Bootstrap(_), _))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_websocket_client_is_disconnected_and_resumes_without_loss() {
    const BUFFER: usize = 8;
    let store = memory();
    let options = BridgeOptions::default().buffer(BUFFER).slow_client(SlowClient::Disconnect);
    let server = serve(Arc::clone(&store), allow_all(), options).await;
    let query = SubscriptionQuery { limit: Some(1000), ..SubscriptionQuery::default() };
    let url = ws_url(&server.base, "limit=1000");
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.expect("upgraded");
    let mut tracker = TaskLiveTracker::new();
    let (first, mut cursor) = next(&mut socket).await.expect("a bootstrap");
    tracker.apply(&first);

    let payload = "y".repeat(48 * 1024);
    for n in 0..300 {
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
    assert!(stats.disconnects >= 1, "the slow client was dropped: {stats:?}");
    assert!(stats.max_queued <= BUFFER, "the queue stayed bounded: {stats:?}");

    // The client reads what reached it, then finds the socket closed.
    while let Some((message, at)) = next(&mut socket).await {
        tracker.apply(&message);
        if at.is_some() {
            cursor = at;
        }
    }
    let resume = format!("limit=1000&cursor={}", cursor.clone().expect("a cursor"));
    let (mut socket, _) =
        tokio_tungstenite::connect_async(ws_url(&server.base, &resume)).await.expect("reconnected");
    read_until_converged(&mut socket, &mut tracker, &mut cursor, &store, &query).await;
    assert_eq!(tracker.state().snapshots.len(), 300);
}
