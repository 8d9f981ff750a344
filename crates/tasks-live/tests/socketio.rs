//! The Socket.IO bridge with a protocol-level client (Engine.IO v4 over a WebSocket, as the
//! official client speaks it): subscribe with `tasks:subscribe`, get `tasks:live` messages (a
//! bootstrap, then events), acknowledgements, and a refusal by the authorization hook.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::request::Parts;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use socketioxide::SocketIo;
use tasks_core::{SubscriptionQuery, TaskLiveMessage, TaskStore};
use tasks_live::http::Authorization;
use tasks_live::socketio::{SocketBridgeOptions, attach_task_live_socket_bridge};
use tasks_live::{LiveSource, TaskLiveHub, TaskLiveTracker};
use tokio_tungstenite::tungstenite::Message;

use support::{assert_converged, claim_and_start, enqueue, finish, work};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A minimal Socket.IO client: Engine.IO open, namespace connect, events and acks.
struct Client {
    socket: Socket,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr, token: &str) -> Client {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket&token={token}");
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("engine.io");
        let mut client = Client { socket };
        let open = client.frame().await;
        assert!(open.starts_with('0'), "engine.io open packet: {open}");
        client.send("40").await;
        let connected = client.frame().await;
        assert!(connected.starts_with("40"), "namespace connected: {connected}");
        client
    }

    async fn send(&mut self, text: &str) {
        self.socket.send(Message::Text(text.into())).await.expect("sent");
    }

    /// The next Engine.IO packet, answering pings on the way.
    async fn frame(&mut self) -> String {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(20), self.socket.next())
                .await
                .expect("a packet in time")
                .expect("open")
                .expect("a frame");
            if let Message::Text(text) = next {
                if text.as_str() == "2" {
                    self.send("3").await;
                    continue;
                }
                return text.to_string();
            }
        }
    }

    /// The next Socket.IO event or ack: (event name or "ack", payload).
    async fn event(&mut self) -> (String, Value) {
        loop {
            let frame = self.frame().await;
            if let Some(body) = frame.strip_prefix("42") {
                let array: Vec<Value> = serde_json::from_str(body).expect("an event array");
                let name = array[0].as_str().expect("a name").to_owned();
                return (name, array.get(1).cloned().unwrap_or(Value::Null));
            }
            if let Some(body) = frame.strip_prefix("43") {
                let start = body.find('[').expect("ack data");
                let array: Vec<Value> = serde_json::from_str(&body[start..]).expect("ack array");
                return ("ack".to_owned(), array.into_iter().next().unwrap_or(Value::Null));
            }
        }
    }

    async fn emit_with_ack(&mut self, event: &str, data: Value, id: u32) {
        self.send(&format!("42{id}{}", json!([event, data]))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_io_clients_subscribe_with_the_spec_event_names() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    let s = Arc::clone(&store);
    tokio::task::spawn_blocking(move || enqueue(&*s, "render", "scope:a", 2)).await.expect("ok");
    let source = LiveSource::store_arc(Arc::clone(&store)).poll_interval(Duration::from_millis(5));
    let hub = TaskLiveHub::new(source).expect("hub");
    let (layer, io) = SocketIo::new_layer();
    // Only sockets whose handshake carries `token=ok` may subscribe.
    let authorizer = |request: &Parts, _: &SubscriptionQuery| {
        if request.uri.query().unwrap_or("").contains("token=ok") {
            Authorization::Allow
        } else {
            Authorization::Deny
        }
    };
    let bridge = attach_task_live_socket_bridge(
        &io,
        hub.clone(),
        authorizer,
        SocketBridgeOptions::default(),
    );
    let app: axum::Router = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });

    // Refused: an error event and a negative ack, and no live message.
    let mut refused = Client::connect(addr, "nope").await;
    refused.emit_with_ack("tasks:subscribe", json!({ "kinds": ["render"] }), 1).await;
    let (name, error) = refused.event().await;
    assert_eq!(name, "tasks:error");
    assert_eq!(error["status"], 403);
    let (name, ack) = refused.event().await;
    assert_eq!((name.as_str(), &ack["ok"]), ("ack", &json!(false)));

    let mut client = Client::connect(addr, "ok").await;
    let query = SubscriptionQuery { recent_steps: Some(50), ..SubscriptionQuery::default() };
    client.emit_with_ack("tasks:subscribe", json!({ "recentSteps": 50 }), 7).await;
    let mut tracker = TaskLiveTracker::new();
    let mut acked = false;
    let mut bootstraps = 0;
    let s = Arc::clone(&store);
    let writes = tokio::task::spawn_blocking(move || {
        let leases = claim_and_start(&*s, "r1");
        for (n, lease) in leases.iter().enumerate() {
            work(&*s, lease, 2);
            finish(&*s, lease, n);
        }
    });
    writes.await.expect("writes");
    let s = Arc::clone(&store);
    let fresh =
        tokio::task::spawn_blocking(move || support::fresh(&*s, &query)).await.expect("read");
    while !acked
        || tracker.state().snapshots != fresh.snapshots
        || tracker.state().steps != fresh.steps
    {
        let (name, data) = client.event().await;
        match name.as_str() {
            "ack" => {
                assert_eq!(data["ok"], true);
                acked = true;
            }
            "tasks:live" => {
                let message: TaskLiveMessage = serde_json::from_value(data).expect("a message");
                if matches!(message, TaskLiveMessage::Bootstrap(_)) {
                    bootstraps += 1;
                }
                tracker.apply(&message);
            }
            other => panic!("unexpected event {other}"),
        }
    }
    assert_eq!(bootstraps, 1, "one bootstrap first");
    assert_converged(&tracker.state(), &fresh, "socket.io");
    assert_eq!(bridge.stats().open_connections, 1);
    client.send("41").await;
    server.abort();
}
