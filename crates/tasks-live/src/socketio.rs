//! The Socket.IO bridge (feature `socketio`), the spec's `attachTaskLiveSocketBridge`, on
//! [socketioxide](https://docs.rs/socketioxide) (a tower layer that works with axum 0.8):
//! existing Socket.IO clients subscribe with the spec's default event names.
//!
//! Protocol, per socket (default namespace `/`):
//!
//! - the client emits `tasks:subscribe` with a subscription query (the spec's JSON shape; a
//!   `cursor` field resumes after that cursor). With an acknowledgement it gets
//!   `{ "ok": true }`, or `{ "ok": false, "status": 403 | 400 | 503, "error": … }`; a refusal
//!   also emits `tasks:error` with the same object;
//! - the server emits `tasks:live` with each live message (a bootstrap, then events), a
//!   `cursor` field added when the message completes a change-feed position;
//! - `tasks:unsubscribe` ends the subscription; a new `tasks:subscribe` replaces it.
//!
//! Authorization goes through the same [`Authorize`] hook as the HTTP bridge, with the
//! socket's handshake request. Each socket's queue is bounded: a slow client gets a fresh
//! bootstrap ([`SlowClient::Resync`]) or is disconnected, and socketioxide's own buffer full
//! disconnects it too (a Socket.IO client reconnects by itself).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::Sid;
use tasks_core::{ChangeCursor, SubscriptionQuery};

use crate::LiveErrorKind;
use crate::http::outbox::{Counters, Next, Outbox};
use crate::http::{Authorization, Authorize, BridgeStats, SlowClient};
use crate::hub::{Resync, SubscribeOptions, Subscription, TaskLiveHub};
use crate::update::LiveUpdate;

/// The event names and bounds of a socket bridge.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SocketBridgeOptions {
    /// The namespace (default `/`).
    pub namespace: String,
    /// What clients emit to subscribe (default `tasks:subscribe`).
    pub subscribe_event: String,
    /// What clients emit to unsubscribe (default `tasks:unsubscribe`).
    pub unsubscribe_event: String,
    /// What the server emits live messages as (default `tasks:live`).
    pub publish_event: String,
    /// What the server emits a refusal or failure as (default `tasks:error`).
    pub error_event: String,
    /// Most messages queued per socket (default 256).
    pub buffer: usize,
    /// What to do with a socket that cannot keep up (default [`SlowClient::Resync`]).
    pub slow_client: SlowClient,
}

impl Default for SocketBridgeOptions {
    fn default() -> Self {
        SocketBridgeOptions {
            namespace: "/".to_owned(),
            subscribe_event: "tasks:subscribe".to_owned(),
            unsubscribe_event: "tasks:unsubscribe".to_owned(),
            publish_event: "tasks:live".to_owned(),
            error_event: "tasks:error".to_owned(),
            buffer: 256,
            slow_client: SlowClient::Resync,
        }
    }
}

/// A socket's live subscription: its queue, its hub subscription and its writer.
struct SocketSubscription {
    outbox: Arc<Outbox>,
    _subscription: Subscription,
    writer: tokio::task::JoinHandle<()>,
}

impl Drop for SocketSubscription {
    fn drop(&mut self) {
        self.outbox.close();
        self.writer.abort();
    }
}

struct Inner {
    hub: TaskLiveHub,
    authorizer: Box<dyn Authorize>,
    options: SocketBridgeOptions,
    counters: Arc<Counters>,
    sockets: Mutex<HashMap<Sid, SocketSubscription>>,
}

/// The Socket.IO bridge of a hub. Cheap to clone.
#[derive(Clone)]
pub struct SocketBridge {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SocketBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketBridge").field("options", &self.inner.options).finish_non_exhaustive()
    }
}

/// Attaches a bridge to `io` on its namespace (the spec's `attachTaskLiveSocketBridge`).
/// Registering the namespace replaces a connect handler the app had on it; to keep your own,
/// call [`SocketBridge::handle_socket`] from a connect middleware of yours instead.
pub fn attach_task_live_socket_bridge(
    io: &SocketIo,
    hub: TaskLiveHub,
    authorizer: impl Authorize,
    options: SocketBridgeOptions,
) -> SocketBridge {
    let bridge = SocketBridge::new(hub, authorizer, options);
    bridge.attach(io);
    bridge
}

impl SocketBridge {
    /// A bridge (not attached yet).
    pub fn new(hub: TaskLiveHub, authorizer: impl Authorize, options: SocketBridgeOptions) -> Self {
        SocketBridge {
            inner: Arc::new(Inner {
                hub,
                authorizer: Box::new(authorizer),
                options,
                counters: Arc::default(),
                sockets: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Registers the bridge on its namespace of `io`.
    ///
    /// The socket's handlers are registered in a connect *middleware*: socketioxide answers
    /// the client's connect before it runs the connect handler, so a client emitting
    /// `tasks:subscribe` right after connecting would race a handler registered there.
    pub fn attach(&self, io: &SocketIo) {
        let bridge = self.clone();
        let namespace = self.inner.options.namespace.clone();
        let wire = move |socket: SocketRef| {
            let bridge = bridge.clone();
            async move {
                bridge.handle_socket(&socket);
                Ok::<(), std::convert::Infallible>(())
            }
        };
        io.ns(namespace, (async |_: SocketRef| {}).with(wire));
    }

    /// Wires one socket: its subscribe, unsubscribe and disconnect handlers. Call it from a
    /// connect middleware of your own (see [`SocketBridge::attach`] for why not later).
    pub fn handle_socket(&self, socket: &SocketRef) {
        let options = &self.inner.options;
        let bridge = self.clone();
        socket.on(
            options.subscribe_event.clone(),
            move |socket: SocketRef, TryData(payload): TryData<Value>, ack: AckSender| {
                let bridge = bridge.clone();
                async move {
                    let answer = bridge.subscribe(&socket, payload.unwrap_or(Value::Null)).await;
                    if let Err(refusal) = &answer {
                        let _ = socket.emit(bridge.inner.options.error_event.as_str(), refusal);
                    }
                    let reply = answer.err().unwrap_or_else(|| json!({ "ok": true }));
                    // Without an acknowledgement asked, there is no one to answer.
                    let _ = ack.send(&reply);
                }
            },
        );
        let bridge = self.clone();
        socket.on(options.unsubscribe_event.clone(), move |socket: SocketRef| {
            let bridge = bridge.clone();
            async move { bridge.forget(socket.id) }
        });
        let bridge = self.clone();
        socket.on_disconnect(move |socket: SocketRef| {
            let bridge = bridge.clone();
            async move { bridge.forget(socket.id) }
        });
    }

    /// Counters over every socket so far.
    pub fn stats(&self) -> BridgeStats {
        self.inner.counters.snapshot()
    }

    fn forget(&self, id: Sid) {
        let removed = self.inner.sockets.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
        drop(removed);
    }

    /// Opens (or replaces) a socket's subscription; a refusal as the answer to send back.
    async fn subscribe(&self, socket: &SocketRef, payload: Value) -> Result<(), Value> {
        let refuse =
            |status: u16, error: String| json!({ "ok": false, "status": status, "error": error });
        let cursor = payload.get("cursor").and_then(Value::as_str).map(ChangeCursor::new);
        let mut query: SubscriptionQuery = match payload {
            Value::Null => SubscriptionQuery::default(),
            payload => serde_json::from_value(payload).map_err(|e| refuse(400, e.to_string()))?,
        };
        query.filter = query.filter.normalized().map_err(|e| refuse(400, e.to_string()))?;
        let query = match self.inner.authorizer.authorize(socket.req_parts(), &query) {
            Authorization::Allow => query,
            Authorization::Narrow(narrower) => *narrower,
            Authorization::Deny => return Err(refuse(403, "forbidden".to_owned())),
        };
        self.forget(socket.id);
        let options = &self.inner.options;
        let outbox = Arc::new(Outbox::new(
            options.buffer,
            options.slow_client,
            Arc::clone(&self.inner.counters),
        ));
        let sink = Arc::clone(&outbox);
        let subscription = self
            .inner
            .hub
            .subscribe_updates(
                SubscribeOptions::new(query)
                    .resume_from(cursor)
                    .max_replay_messages(options.buffer / 2),
                move |update: &LiveUpdate| sink.push(update),
            )
            .await
            .map_err(|error| {
                let status = if error.kind() == LiveErrorKind::InvalidQuery { 400 } else { 503 };
                refuse(status, error.to_string())
            })?;
        let resync = subscription.resync_handle();
        let writer = tokio::spawn(write(self.clone(), socket.clone(), Arc::clone(&outbox), resync));
        let entry = SocketSubscription { outbox, _subscription: subscription, writer };
        let replaced = self
            .inner
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(socket.id, entry);
        drop(replaced);
        Ok(())
    }
}

/// The payload of an update: the message, with its cursor when it has one.
fn payload(update: &LiveUpdate) -> Value {
    let mut value = serde_json::to_value(update.message()).unwrap_or(Value::Null);
    if let (Some(cursor), Value::Object(object)) = (update.cursor(), &mut value) {
        object.insert("cursor".to_owned(), Value::String(cursor.as_str().to_owned()));
    }
    value
}

/// Emits a socket's queued updates until it closes.
async fn write(bridge: SocketBridge, socket: SocketRef, outbox: Arc<Outbox>, resync: Resync) {
    let event = bridge.inner.options.publish_event.clone();
    loop {
        let update = match outbox.next().await {
            Next::Update(update) => update,
            // The fresh bootstrap comes through the queue, like any update.
            Next::Resync => match resync.resync().await {
                Ok(()) => continue,
                Err(_) => return,
            },
            Next::Closed => return,
            Next::TooSlow => {
                let _ = socket.disconnect();
                return;
            }
        };
        if socket.emit(event.as_str(), &payload(&update)).is_err() {
            // Closed, or socketioxide's own buffer is full (a client far behind): disconnect;
            // the client reconnects and resumes.
            let _ = socket.clone().disconnect();
            return;
        }
    }
}
