//! The JSON API, mounted at `/api`. Bodies use the spec's wire shapes (camelCase snapshots,
//! steps and aggregates); errors are `{"error": {"code", "message"}}` ([`ApiError`]).
//!
//! | Route | Answer |
//! | --- | --- |
//! | `GET /api/aggregate?state=&kind=&channel=` | `TaskAggregate`: totals by state, status, kind |
//! | `GET /api/tasks?state=&kind=&channel=&limit=&offset=&order=` | `{tasks, total, offset, limit}` |
//! | `GET /api/tasks/{id}?steps=` | the snapshot with its recent `steps` |
//! | `GET /api/tasks/{id}/steps?afterSeq=&limit=&latest=` | `{taskId, steps, nextAfterSeq}` |
//! | `POST /api/tasks/{id}/cancel` (body `{"reason"}` optional) | the snapshot after the cancel |
//! | `POST /api/tasks/{id}/retry` | the snapshot after the retry |
//!
//! Filters: `state` (lifecycle: queued, claimed, running, retrying, succeeded, failed,
//! cancelled, stale), `status`, `kind`, `channel`; lists as repeated keys or comma-separated
//! (not `channel`). A page holds 50 tasks unless `limit` (1 to 1000) says otherwise; `order` is
//! `created_desc` (newest first, the default), `created_asc`, `updated_desc`,
//! `scheduled_asc` or `scheduled_desc`. An unknown parameter is `400 invalid_query`.

mod actions;
pub mod error;
pub(crate) mod params;
mod reads;

use axum::Router;
use axum::routing::{get, post};

pub use error::{ApiError, ErrorCode};
pub use params::{DEFAULT_PAGE_SIZE, MAX_DETAIL_STEPS, MAX_PAGE_SIZE};

use crate::app::AppState;

/// The API's routes, to nest at `/api`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/aggregate", get(reads::aggregate))
        .route("/tasks", get(reads::list))
        .route("/tasks/{id}", get(reads::detail))
        .route("/tasks/{id}/steps", get(reads::steps))
        .route("/tasks/{id}/cancel", post(actions::cancel))
        .route("/tasks/{id}/retry", post(actions::retry))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such API endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "this endpoint does not take that method")
}
