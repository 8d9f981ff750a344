//! The WebSocket endpoint: `GET /ws?…`. Each text frame is a message as JSON, with a `cursor`
//! field added when the message completes a change-feed position (reconnect with
//! `?cursor=`). Authorization and the bootstrap read happen before the upgrade, so a refused
//! or failed request gets an HTTP status, not a socket.

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};

use super::outbox::Next;
use super::query::parse_query_string;
use super::{Connection, LiveBridge};
use crate::update::LiveUpdate;

/// Close code for a client too slow to keep up (policy violation).
const TOO_SLOW: u16 = 1008;

pub(super) async fn upgrade(State(bridge): State<LiveBridge>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &bridge).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let (query, cursor) = match parse_query_string(parts.uri.query().unwrap_or("")) {
        Ok(read) => read,
        Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    };
    let connection = match bridge.open(&parts, query, cursor).await {
        Ok(connection) => connection,
        Err(response) => return response,
    };
    upgrade.on_upgrade(move |socket| serve(connection, socket))
}

/// The frame of an update: its JSON, with the cursor spliced in when it has one.
pub(super) fn frame(update: &LiveUpdate) -> String {
    let json = update.json();
    match (update.cursor(), json.strip_prefix('{')) {
        (Some(cursor), Some(rest)) => {
            let cursor = serde_json::Value::String(cursor.as_str().to_owned());
            format!("{{\"cursor\":{cursor},{rest}")
        }
        _ => json.to_owned(),
    }
}

async fn serve(connection: Connection, socket: WebSocket) {
    let (mut sink, mut incoming) = socket.split();
    loop {
        let next = tokio::select! {
            next = connection.outbox.next() => next,
            // The client closed, or sent something (pings are answered by the socket itself;
            // nothing else is expected).
            message = incoming.next() => match message {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            },
        };
        let text = match next {
            Next::Update(update) => frame(&update),
            // The fresh bootstrap comes through the queue, like any update.
            Next::Resync => match connection.resync.resync().await {
                Ok(()) => continue,
                Err(_) => return,
            },
            Next::Closed => return,
            Next::TooSlow => {
                let close = CloseFrame { code: TOO_SLOW, reason: "too slow; reconnect".into() };
                let _ = sink.send(Message::Close(Some(close))).await;
                return;
            }
        };
        // A client that stops reading blocks this send; a disconnect policy gives up on it.
        tokio::select! {
            sent = sink.send(Message::Text(text.into())) => if sent.is_err() { return },
            () = connection.outbox.wait_closed() => return,
        }
    }
}
