//! The HTTP bridge (feature `http`): Server-Sent Events and WebSocket endpoints on axum that
//! take a subscription query and stream live messages, resume by cursor, ask an
//! authorization hook per request, and keep each connection's buffer bounded. It also
//! serves `tasks-live.js`, a small dependency-free browser module that subscribes and applies
//! messages with the tracker's rules.
//!
//! [`LiveBridge::router`] gives these routes, to nest anywhere (`/live` below):
//!
//! - `GET /events?…` (and `POST /events` with a JSON query body): an SSE stream. Each
//!   message's `data` is a `TaskLiveMessage` as JSON; a message that completes a change-feed
//!   position carries it as the SSE `id`, so a reconnecting `EventSource` resumes with
//!   `Last-Event-ID` (or `?cursor=`) and misses nothing.
//! - `GET /ws?…`: a WebSocket; each text frame is a `TaskLiveMessage` as JSON, with a
//!   `cursor` field added when it completes a position (resume with `?cursor=`).
//! - `GET /tasks-live.js`: the browser module.
//!
//! The query is read from the query string ([`query`] lists the keys) or as JSON (`?q=` or the
//! POST body). A malformed query gets `400`, a refused one `403` (and no data), a failed
//! bootstrap read `503`.

pub mod auth;
pub(crate) mod outbox;
pub mod query;
mod sse;
mod ws;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tasks_core::{ChangeCursor, SubscriptionQuery};

pub use auth::{Authorization, Authorize, allow_all};
pub use outbox::{BridgeStats, SlowClient};

use crate::hub::{Resync, SubscribeOptions, Subscription, TaskLiveHub};
use crate::update::LiveUpdate;
use crate::{LiveError, LiveErrorKind};
use outbox::{Counters, Outbox};

/// The browser module, as served at `/tasks-live.js`.
pub const TASKS_LIVE_JS: &str = include_str!("../../assets/tasks-live.js");

/// How a bridge treats its connections. Every field has a default.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BridgeOptions {
    /// Most messages queued per connection (default 256); see [`SlowClient`].
    pub buffer: usize,
    /// What to do with a client that cannot keep up (default [`SlowClient::Resync`]).
    pub slow_client: SlowClient,
    /// How often an idle SSE stream sends a keep-alive comment (default 15 s).
    pub keep_alive: Duration,
    /// Largest POST body accepted (default 64 KiB).
    pub max_body: usize,
}

impl Default for BridgeOptions {
    fn default() -> Self {
        BridgeOptions {
            buffer: 256,
            slow_client: SlowClient::Resync,
            keep_alive: Duration::from_secs(15),
            max_body: 64 * 1024,
        }
    }
}

impl BridgeOptions {
    /// The same options with another per-connection bound (at least 1).
    #[must_use]
    pub fn buffer(mut self, messages: usize) -> Self {
        self.buffer = messages.max(1);
        self
    }

    /// The same options with another slow-client policy.
    #[must_use]
    pub fn slow_client(mut self, policy: SlowClient) -> Self {
        self.slow_client = policy;
        self
    }
}

/// The HTTP bridge of a hub. Cheap to clone.
#[derive(Clone)]
pub struct LiveBridge {
    inner: Arc<Inner>,
}

struct Inner {
    hub: TaskLiveHub,
    authorizer: Box<dyn Authorize>,
    options: BridgeOptions,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for LiveBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveBridge")
            .field("options", &self.inner.options)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// One open subscription of a connection: its queue, and the hub subscription feeding it
/// (dropped with the connection).
pub(crate) struct Connection {
    pub(crate) outbox: Arc<Outbox>,
    /// Gives the subscription a fresh bootstrap when the queue overflowed.
    pub(crate) resync: Resync,
    pub(crate) _subscription: Subscription,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.outbox.close();
    }
}

impl LiveBridge {
    /// A bridge over `hub` whose subscriptions `authorizer` decides (see [`allow_all`]).
    pub fn new(hub: TaskLiveHub, authorizer: impl Authorize) -> Self {
        LiveBridge::with_options(hub, authorizer, BridgeOptions::default())
    }

    /// The same with options.
    pub fn with_options(
        hub: TaskLiveHub,
        authorizer: impl Authorize,
        options: BridgeOptions,
    ) -> Self {
        LiveBridge {
            inner: Arc::new(Inner {
                hub,
                authorizer: Box::new(authorizer),
                options,
                counters: Arc::default(),
            }),
        }
    }

    /// The routes (`/events`, `/ws`, `/tasks-live.js`), to nest or merge into an app.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route("/events", get(sse::get_events).post(sse::post_events))
            .route("/ws", get(ws::upgrade))
            .route("/tasks-live.js", get(script))
            .with_state(self.clone())
    }

    /// The hub.
    pub fn hub(&self) -> &TaskLiveHub {
        &self.inner.hub
    }

    /// Counters over every connection so far.
    pub fn stats(&self) -> BridgeStats {
        self.inner.counters.snapshot()
    }

    /// Checks, authorizes and opens a subscription for a request.
    pub(crate) async fn open(
        &self,
        parts: &Parts,
        mut query: SubscriptionQuery,
        cursor: Option<ChangeCursor>,
    ) -> Result<Connection, Response> {
        query.filter = query
            .filter
            .normalized()
            .map_err(|error| (StatusCode::BAD_REQUEST, error.to_string()).into_response())?;
        let query = match self.inner.authorizer.authorize(parts, &query) {
            Authorization::Allow => query,
            Authorization::Narrow(narrower) => *narrower,
            Authorization::Deny => return Err(StatusCode::FORBIDDEN.into_response()),
        };
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
                // A replay larger than half the queue would overflow it: a bootstrap instead.
                SubscribeOptions::new(query)
                    .resume_from(cursor)
                    .max_replay_messages(options.buffer / 2),
                move |update: &LiveUpdate| sink.push(update),
            )
            .await
            .map_err(error_response)?;
        let resync = subscription.resync_handle();
        Ok(Connection { outbox, resync, _subscription: subscription })
    }

    pub(crate) fn options(&self) -> &BridgeOptions {
        &self.inner.options
    }
}

fn error_response(error: LiveError) -> Response {
    let status = match error.kind() {
        LiveErrorKind::InvalidQuery => StatusCode::BAD_REQUEST,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, error.to_string()).into_response()
}

async fn script() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=300"),
        ],
        TASKS_LIVE_JS,
    )
        .into_response()
}
