//! The Server-Sent Events endpoint: `GET /events?…` and `POST /events` (JSON query body).
//! Each message is one SSE event whose `data` is the message JSON and whose `id`, when set,
//! is the change-feed cursor to resume from (`Last-Event-ID`).

use std::convert::Infallible;

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tasks_core::{ChangeCursor, SubscriptionQuery};

use super::outbox::Next;
use super::query::{parse_json_body, parse_query_string};
use super::{Connection, LiveBridge};
use crate::update::LiveUpdate;

/// The cursor named by `Last-Event-ID` (what `EventSource` sends on reconnect).
fn last_event_id(parts: &Parts) -> Option<ChangeCursor> {
    let value = parts.headers.get("last-event-id")?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| ChangeCursor::new(value))
}

fn bad_request(message: impl std::fmt::Display) -> Response {
    (StatusCode::BAD_REQUEST, message.to_string()).into_response()
}

pub(super) async fn get_events(State(bridge): State<LiveBridge>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let (query, cursor) = match parse_query_string(parts.uri.query().unwrap_or("")) {
        Ok(read) => read,
        Err(error) => return bad_request(error),
    };
    let cursor = last_event_id(&parts).or(cursor);
    stream_events(bridge, parts, query, cursor).await
}

pub(super) async fn post_events(State(bridge): State<LiveBridge>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, bridge.options().max_body).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let query = match parse_json_body(&body) {
        Ok(query) => query,
        Err(error) => return bad_request(error),
    };
    let cursor = match parse_query_string(parts.uri.query().unwrap_or("")) {
        Ok((_, cursor)) => cursor,
        Err(error) => return bad_request(error),
    };
    let cursor = last_event_id(&parts).or(cursor);
    stream_events(bridge, parts, query, cursor).await
}

fn event_of(update: &LiveUpdate) -> Event {
    let event = Event::default().data(update.json());
    match update.cursor() {
        // An SSE id cannot hold line breaks or NUL; a store's cursor never should.
        Some(cursor) if !cursor.as_str().contains(['\n', '\r', '\0']) => event.id(cursor.as_str()),
        _ => event,
    }
}

async fn stream_events(
    bridge: LiveBridge,
    parts: Parts,
    query: SubscriptionQuery,
    cursor: Option<ChangeCursor>,
) -> Response {
    let connection = match bridge.open(&parts, query, cursor).await {
        Ok(connection) => connection,
        Err(response) => return response,
    };
    let keep_alive = KeepAlive::new().interval(bridge.options().keep_alive);
    let events = stream::unfold(connection, |connection| async move {
        let event = next_event(&connection).await?;
        Some((Ok::<Event, Infallible>(event), connection))
    });
    Sse::new(events).keep_alive(keep_alive).into_response()
}

/// The next event of a connection; `None` ends the stream (the client reconnects).
async fn next_event(connection: &Connection) -> Option<Event> {
    loop {
        match connection.outbox.next().await {
            Next::Update(update) => return Some(event_of(&update)),
            // The fresh bootstrap comes through the queue, like any update.
            Next::Resync => connection.resync.resync().await.ok()?,
            Next::Closed | Next::TooSlow => return None,
        }
    }
}
