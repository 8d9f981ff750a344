//! Reads: get, list, aggregate and a task's steps, on pooled read connections. Reads that take
//! more than one statement run in one read transaction, so they see one snapshot.

use rusqlite::{Connection, OptionalExtension};
use tasks_core::limits::validate_page_limit;
use tasks_core::{
    LifecycleState, StepQuery, StepRecord, StoreError, TaskAggregate, TaskFilter, TaskId,
    TaskListQuery, TaskOrder, TaskRecord, TaskStatus, Timestamp,
};

use crate::error::{corrupt, sql};
use crate::filter::where_clause;
use crate::row::{self, STEP_COLUMNS, TASK_COLUMNS};

/// A page of tasks.
pub(crate) fn list(
    conn: &Connection,
    query: &TaskListQuery,
) -> Result<Vec<TaskRecord>, StoreError> {
    let (filter, limit) = query.normalized()?;
    let order = match query.order {
        TaskOrder::CreatedDesc => "created_at DESC, id DESC",
        TaskOrder::CreatedAsc => "created_at ASC, id ASC",
        TaskOrder::UpdatedDesc => "updated_at DESC, id DESC",
        TaskOrder::ScheduledAsc => "scheduled_at ASC, id ASC",
        TaskOrder::ScheduledDesc => "scheduled_at DESC, id DESC",
        _ => return Err(StoreError::Unsupported { operation: "this list order" }),
    };
    let condition = where_clause(&filter);
    let offset = query.offset.unwrap_or(0);
    // Limit and offset are literals: see the module docs of `row`.
    let sql_text = format!(
        "SELECT {TASK_COLUMNS} FROM tasks WHERE {} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
        condition.clause
    );
    row::query_records(conn, &sql_text, &condition.params)
}

/// Counts of the tasks passing `filter`, grouped in SQL by what decides the lifecycle state.
pub(crate) fn aggregate(
    conn: &Connection,
    filter: &TaskFilter,
) -> Result<TaskAggregate, StoreError> {
    let filter = filter.normalized()?;
    let condition = where_clause(&filter);
    let sql_text = format!(
        "SELECT kind, status, retry_scheduled_at IS NOT NULL, stale_at IS NOT NULL, count(*), \
         max(updated_at) FROM tasks WHERE {} GROUP BY 1, 2, 3, 4",
        condition.clause
    );
    let mut statement = conn.prepare_cached(&sql_text).map_err(sql)?;
    let mut rows =
        statement.query(rusqlite::params_from_iter(condition.params.iter())).map_err(sql)?;
    let mut aggregate = TaskAggregate::default();
    while let Some(row) = rows.next().map_err(sql)? {
        let kind: String = row.get(0).map_err(sql)?;
        let status: String = row.get(1).map_err(sql)?;
        let status =
            TaskStatus::parse(&status).ok_or_else(|| corrupt(format_args!("status {status:?}")))?;
        let state =
            LifecycleState::resolve(status, row.get(2).map_err(sql)?, row.get(3).map_err(sql)?);
        let count: i64 = row.get(4).map_err(sql)?;
        let count = u64::try_from(count).unwrap_or(0);
        let updated_at = Timestamp::from_millis(row.get(5).map_err(sql)?);
        aggregate.add_n(&kind, status, state, updated_at, count);
    }
    Ok(aggregate)
}

/// A task's steps after `afterSeq`: the first `limit`, or the last `limit` with `latest`, in
/// seq order.
pub(crate) fn list_steps(
    conn: &Connection,
    id: &TaskId,
    query: &StepQuery,
) -> Result<Vec<StepRecord>, StoreError> {
    let limit = validate_page_limit("limit", query.limit)?;
    let exists = conn
        .prepare_cached("SELECT 1 FROM tasks WHERE id = ?1")
        .map_err(sql)?
        .query_row([id.as_str()], |_| Ok(()))
        .optional()
        .map_err(sql)?;
    if exists.is_none() {
        return Err(StoreError::NotFound { id: id.clone() });
    }
    // A cursor past every representable seq leaves nothing after it.
    let after = i64::try_from(query.after_seq.unwrap_or(0)).unwrap_or(i64::MAX);
    let direction = if query.latest { "DESC" } else { "ASC" };
    let sql_text = format!(
        "SELECT {STEP_COLUMNS} FROM tasks_steps WHERE task_id = ?1 AND seq > ?2 \
         ORDER BY seq {direction} LIMIT {limit}"
    );
    let mut statement = conn.prepare_cached(&sql_text).map_err(sql)?;
    let mut rows = statement.query(rusqlite::params![id.as_str(), after]).map_err(sql)?;
    let mut steps = Vec::new();
    while let Some(row) = rows.next().map_err(sql)? {
        steps.push(row::read_step(row)?);
    }
    if query.latest {
        steps.reverse();
    }
    Ok(steps)
}
