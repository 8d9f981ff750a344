//! Helpers for the bridge tests: a server on a loopback port, and an SSE client reading
//! events off a real HTTP response.

#![allow(dead_code, unreachable_pub)]

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use tasks_core::{TaskLiveMessage, TaskStore};
use tasks_live::http::{Authorize, BridgeOptions, LiveBridge};
use tasks_live::{LiveSource, TaskLiveHub};

/// A bridge served at `http://{addr}/live`.
pub struct Server {
    pub base: String,
    pub bridge: LiveBridge,
    pub hub: TaskLiveHub,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve(
    store: Arc<dyn TaskStore>,
    authorizer: impl Authorize,
    options: BridgeOptions,
) -> Server {
    let source = LiveSource::store_arc(store).poll_interval(Duration::from_millis(5));
    let hub = TaskLiveHub::new(source).expect("hub");
    let bridge = LiveBridge::with_options(hub.clone(), authorizer, options);
    let app: axum::Router = axum::Router::new().nest("/live", bridge.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("address");
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("server");
    });
    Server { base: format!("http://{addr}/live"), bridge, hub, task }
}

/// One SSE event.
#[derive(Clone, Debug)]
pub struct SseEvent {
    pub id: Option<String>,
    pub message: TaskLiveMessage,
}

type Bytes = Pin<Box<dyn Stream<Item = reqwest::Result<bytes_alias::Bytes>> + Send>>;

mod bytes_alias {
    pub type Bytes = axum::body::Bytes;
}

/// Reads SSE events from a response body.
pub struct SseClient {
    stream: Bytes,
    buffer: String,
}

impl SseClient {
    pub fn new(response: reqwest::Response) -> Self {
        SseClient { stream: Box::pin(response.bytes_stream()), buffer: String::new() }
    }

    /// The next event with data (comments and keep-alives skipped); `None` at the end.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut data = Vec::new();
                let mut id = None;
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("data:") {
                        data.push(value.strip_prefix(' ').unwrap_or(value).to_owned());
                    } else if let Some(value) = line.strip_prefix("id:") {
                        id = Some(value.strip_prefix(' ').unwrap_or(value).to_owned());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                let message = serde_json::from_str(&data.join("\n")).expect("a live message");
                return Some(SseEvent { id, message });
            }
            let chunk = self.stream.next().await?.ok()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        }
    }

    /// The next event, failing the test after 20 s.
    pub async fn expect_next(&mut self) -> SseEvent {
        tokio::time::timeout(Duration::from_secs(20), self.next())
            .await
            .expect("an event in time")
            .expect("the stream goes on")
    }
}
