//! [`serve`]: the dashboard on a listener until a shutdown future resolves.
//!
//! Graceful shutdown waits for open responses to end, and a live stream (SSE) never ends by
//! itself: so every streaming body is cut when the shutdown future resolves, the browsers'
//! connections close, and `serve` returns. (A browser's `EventSource` then tries to
//! reconnect, finds no server, and the page says it is offline.)

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use futures_util::StreamExt;
use tasks_core::TaskStore;
use tokio::sync::watch;

use crate::app::Dashboard;
use crate::error::DashboardError;
use crate::options::DashboardOptions;

/// Serves a dashboard over `store` on `listener` until `shutdown` resolves, then stops
/// accepting, ends the live streams and returns once every connection has closed.
///
/// # Errors
///
/// As [`Dashboard::new`]; [`DashboardError::Io`] when the listener fails.
pub async fn serve(
    store: Arc<dyn TaskStore>,
    listener: tokio::net::TcpListener,
    options: DashboardOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DashboardError> {
    let dashboard = Dashboard::new(store, options)?;
    let (stop, stopped) = watch::channel(false);
    let app = dashboard.into_router().layer(from_fn_with_state(stopped, end_streams_on_stop));
    let signal = async move {
        shutdown.await;
        // Every receiver sees it, including streams that start after this.
        stop.send_replace(true);
    };
    axum::serve(listener, app).with_graceful_shutdown(signal).await?;
    Ok(())
}

/// Cuts a live stream's body when the stop flag is raised.
async fn end_streams_on_stop(
    State(stopped): State<watch::Receiver<bool>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let streaming = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/event-stream"));
    if !streaming {
        return response;
    }
    let (parts, body) = response.into_parts();
    let mut stopped = stopped;
    let stop = async move {
        // An error means the sender is gone: the server is over, so is the stream.
        let _ = stopped.wait_for(|stopped| *stopped).await;
    };
    let body = Body::from_stream(body.into_data_stream().take_until(Box::pin(stop)));
    Response::from_parts(parts, body)
}
