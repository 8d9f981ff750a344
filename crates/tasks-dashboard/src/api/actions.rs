//! The state-changing endpoints: cancel a task, and run a task again now (retry). Both answer
//! with the task's snapshot after the change; the live stream tells every open page too.
//!
//! The security layer has already checked the token and refused foreign origins by the time
//! these run.

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::State;
use serde::Deserialize;
use tasks_core::TaskSnapshot;

use super::error::{ApiError, ErrorCode};
use super::reads::TaskIdPath;
use crate::app::AppState;

/// Largest body a cancel or retry request may carry.
const MAX_BODY: usize = 16 * 1024;

/// The optional JSON body of a cancel.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    /// Why, kept on the task as its cancel reason.
    reason: Option<String>,
}

/// Reads an optional JSON body: empty means the defaults.
async fn json_body<T: for<'de> Deserialize<'de> + Default>(body: Body) -> Result<T, ApiError> {
    let bytes = to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::new(ErrorCode::PayloadTooLarge, format!("the body is over {MAX_BODY} bytes"))
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes)
        .map_err(|error| ApiError::new(ErrorCode::InvalidBody, format!("unreadable body: {error}")))
}

/// `POST /api/tasks/{id}/cancel` (body optional: `{"reason": "..."}`): a queued task is
/// cancelled at once, a claimed or running one is asked to stop (`cancelRequestedAt`). A
/// finished task is `409 refused`; an unknown one `404 not_found`.
pub(crate) async fn cancel(
    State(app): State<AppState>,
    TaskIdPath(id): TaskIdPath,
    body: Body,
) -> Result<Json<TaskSnapshot>, ApiError> {
    // The store checks the reason (length, emptiness) like any other input.
    let CancelBody { reason } = json_body(body).await?;
    let now = app.clock.now();
    let record = app.store.call(move |store| store.cancel(&id, reason.as_deref(), now)).await?;
    Ok(Json(TaskSnapshot::from_record(&record)))
}

/// `POST /api/tasks/{id}/retry`: runs the task again now. A queued task scheduled later (a
/// retry waiting for its backoff, a delayed task) becomes due now; a failed or cancelled task
/// is queued again, due now. A claimed, running or succeeded task is `409 refused`, as is a
/// finished task whose dedupe key another open task holds; an unknown one `404 not_found`; a
/// store without the operation `501 unsupported`.
pub(crate) async fn retry(
    State(app): State<AppState>,
    TaskIdPath(id): TaskIdPath,
    body: Body,
) -> Result<Json<TaskSnapshot>, ApiError> {
    // No fields yet; an empty body or `{}` is expected, anything else is refused.
    let Empty {} = json_body(body).await?;
    let now = app.clock.now();
    let record = app.store.call(move |store| store.retry(&id, now)).await?;
    Ok(Json(TaskSnapshot::from_record(&record)))
}

/// A body with no fields.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Empty {}
