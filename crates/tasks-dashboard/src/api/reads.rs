//! The read endpoints: the aggregate, a page of tasks, one task's detail, and a task's steps
//! from a `seq` cursor.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::Uri;
use axum::http::request::Parts;
use serde::Serialize;
use tasks_core::{SnapshotOptions, StepRecord, TaskAggregate, TaskId, TaskSnapshot, TaskStoreExt};

use super::error::{ApiError, ErrorCode};
use super::params::{FILTER_KEYS, Params};
use crate::app::AppState;

/// The `{id}` of a task route, checked as a task id (a bad one is `400 invalid_input`).
pub(crate) struct TaskIdPath(pub(crate) TaskId);

impl<S: Send + Sync> FromRequestParts<S> for TaskIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(id) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|error| ApiError::new(ErrorCode::InvalidInput, error.body_text()))?;
        TaskId::new(id)
            .map(TaskIdPath)
            .map_err(|error| ApiError::new(ErrorCode::InvalidInput, error.to_string()))
    }
}

/// `GET /api/aggregate?state=&kind=&channel=`: counts by state, status and kind.
pub(crate) async fn aggregate(
    State(app): State<AppState>,
    uri: Uri,
) -> Result<Json<TaskAggregate>, ApiError> {
    let filter = Params::parse(uri.query(), &[FILTER_KEYS])?.filter()?;
    Ok(Json(app.store.call(move |store| store.aggregate(&filter)).await?))
}

/// A page of the task list.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskPage {
    /// The snapshots of the page, in the order asked.
    tasks: Vec<TaskSnapshot>,
    /// How many tasks pass the filter in all.
    total: u64,
    /// Where the page starts.
    offset: u32,
    /// The page size asked.
    limit: u32,
}

/// `GET /api/tasks?state=&kind=&channel=&limit=&offset=&order=`: a page of snapshots (without
/// steps) and the total passing the filter.
pub(crate) async fn list(
    State(app): State<AppState>,
    uri: Uri,
) -> Result<Json<TaskPage>, ApiError> {
    let params = Params::parse(uri.query(), &[FILTER_KEYS, &["limit", "offset", "order"]])?;
    let query = params.task_page()?;
    let (offset, limit) = (query.offset.unwrap_or(0), query.limit.unwrap_or(0));
    let (records, aggregate) = app
        .store
        .call(move |store| Ok((store.list(&query)?, store.aggregate(&query.filter)?)))
        .await?;
    Ok(Json(TaskPage {
        tasks: records.iter().map(TaskSnapshot::from_record).collect(),
        total: aggregate.total,
        offset,
        limit,
    }))
}

/// `GET /api/tasks/{id}?steps=`: the full snapshot (input, output, error, progress) with its
/// most recent steps (100 unless `steps` says otherwise, at most 1000; `0` for none).
pub(crate) async fn detail(
    State(app): State<AppState>,
    TaskIdPath(id): TaskIdPath,
    uri: Uri,
) -> Result<Json<TaskSnapshot>, ApiError> {
    let steps = Params::parse(uri.query(), &[&["steps"]])?.detail_steps()?;
    let options = SnapshotOptions { include_steps: Some(steps) };
    let key = id.clone();
    let snapshot = app.store.call(move |store| store.read_snapshot(&key, &options)).await?;
    let mut snapshot = snapshot
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("task {id} not found")))?;
    // Always a list in the detail, empty when none were asked for, so clients need no branch.
    snapshot.steps.get_or_insert_with(Vec::new);
    Ok(Json(snapshot))
}

/// A task's steps after a cursor.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StepPage {
    /// The task.
    task_id: TaskId,
    /// The steps, in `seq` order.
    steps: Vec<StepRecord>,
    /// The `afterSeq` to read on from: the last step's `seq`, or the cursor given.
    next_after_seq: u64,
}

/// `GET /api/tasks/{id}/steps?afterSeq=&limit=&latest=`: steps with `seq > afterSeq`, the first
/// `limit` (100 by default, at most 10,000), or the last with `latest=true`.
pub(crate) async fn steps(
    State(app): State<AppState>,
    TaskIdPath(id): TaskIdPath,
    uri: Uri,
) -> Result<Json<StepPage>, ApiError> {
    let query = Params::parse(uri.query(), &[&["afterSeq", "limit", "latest"]])?.step_query()?;
    let after = query.after_seq.unwrap_or(0);
    let key = id.clone();
    let steps = app.store.call(move |store| store.list_steps(&key, &query)).await?;
    let next_after_seq = steps.last().map_or(after, |step| step.seq);
    Ok(Json(StepPage { task_id: id, steps, next_after_seq }))
}
