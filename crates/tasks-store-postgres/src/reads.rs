//! Reads: get, list, aggregate and steps. Filters become SQL built from fixed fragments
//! (values always travel as parameters); the lifecycle state is resolved in SQL with the same
//! rule as core's `LifecycleState::resolve`.

use postgres::types::ToSql;
use tasks_core::limits::validate_page_limit;
use tasks_core::{
    LifecycleState, StepQuery, StepRecord, StoreError, TaskAggregate, TaskFilter, TaskId,
    TaskListQuery, TaskOrder, TaskRecord, TaskStatus, Timestamp,
};

use crate::pool::Db;
use crate::row::{STEP_COLUMNS, step_from_row, task_columns, task_from_row};
use crate::store::{Durability, PostgresTaskStore};

/// The lifecycle state of a row, in SQL (core's `LifecycleState::resolve`).
const STATE: &str = "CASE WHEN status = 'queued' AND retry_scheduled_at IS NOT NULL THEN 'retrying' \
     WHEN status IN ('claimed', 'running') AND stale_at IS NOT NULL THEN 'stale' ELSE status END";

/// A WHERE clause under construction, with its parameters.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    params: Vec<Box<dyn ToSql + Sync>>,
}

impl Where {
    fn push(&mut self, clause: impl FnOnce(usize) -> String, value: Box<dyn ToSql + Sync>) {
        self.params.push(value);
        self.clauses.push(clause(self.params.len()));
    }

    fn of(filter: &TaskFilter) -> Self {
        let mut w = Where::default();
        if !filter.task_ids.is_empty() {
            let ids: Vec<String> = filter.task_ids.iter().map(ToString::to_string).collect();
            w.push(|n| format!("id = ANY(${n}::text[])"), Box::new(ids));
        }
        if !filter.kinds.is_empty() {
            w.push(|n| format!("kind = ANY(${n}::text[])"), Box::new(filter.kinds.clone()));
        }
        if !filter.channels.is_empty() {
            w.push(|n| format!("channels ?| ${n}::text[]"), Box::new(filter.channels.clone()));
        }
        if !filter.statuses.is_empty() {
            let statuses: Vec<String> =
                filter.statuses.iter().map(|s| s.as_str().to_owned()).collect();
            w.push(|n| format!("status = ANY(${n}::text[])"), Box::new(statuses));
        }
        if !filter.states.is_empty() {
            let states: Vec<String> = filter.states.iter().map(|s| s.as_str().to_owned()).collect();
            w.push(|n| format!("({STATE}) = ANY(${n}::text[])"), Box::new(states));
        }
        for (column, key) in [
            ("dedupe_key", &filter.dedupe_key),
            ("concurrency_key", &filter.concurrency_key),
            ("supersede_key", &filter.supersede_key),
        ] {
            if let Some(key) = key {
                w.push(|n| format!("{column} = ${n}::text"), Box::new(key.clone()));
            }
        }
        w
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params.iter().map(|param| param.as_ref() as &(dyn ToSql + Sync)).collect()
    }
}

impl PostgresTaskStore {
    pub(crate) fn get_task(&self, id: &TaskId) -> Result<Option<TaskRecord>, StoreError> {
        let sql = &self.inner.sql;
        self.run(Durability::Full, |conn| {
            let rows = conn.query(&sql.select_task, &[&id.as_str()])?;
            Ok(rows.first().map(task_from_row).transpose()?)
        })
    }

    pub(crate) fn list_tasks(&self, query: &TaskListQuery) -> Result<Vec<TaskRecord>, StoreError> {
        let (filter, limit) = query.normalized()?;
        let mut w = Where::of(&filter);
        let names = &self.inner.sql.names;
        let tasks = names.tasks.as_str();
        // The creation orders read `created_order` (see `schema`: the tasks table has no index
        // on creation time) backwards or forwards and fetch each task by its key; the other
        // orders sort the filtered rows. The join names the id alone: with `created_at` too,
        // the planner took the pair for a rare match and hashed both tables whole instead (320
        // ms against 0.2 ms for a page of 50 among 200,000 tasks). A filter on task ids reads
        // those tasks by their key and sorts them (a page at most): through `created_order`,
        // whose key starts with the time, it would read every row.
        let by_creation = if filter.task_ids.is_empty() {
            Some(format!("{} AS c JOIN {tasks} AS t ON t.id = c.task_id", names.created_order))
        } else {
            None
        };
        let creation = |ascending: bool| {
            let direction = if ascending { "ASC" } else { "DESC" };
            match &by_creation {
                Some(from) => {
                    (from.as_str(), "t", format!("c.at {direction}, c.task_id {direction}"))
                }
                None => (tasks, "", format!("created_at {direction}, id {direction}")),
            }
        };
        // What to read from, the alias of the tasks in it, and the order.
        let (from, alias, order) = match query.order {
            TaskOrder::CreatedAsc => creation(true),
            TaskOrder::UpdatedDesc => (tasks, "", "updated_at DESC, id DESC".to_owned()),
            TaskOrder::ScheduledAsc => (tasks, "", "scheduled_at ASC, id ASC".to_owned()),
            TaskOrder::ScheduledDesc => (tasks, "", "scheduled_at DESC, id DESC".to_owned()),
            // CreatedDesc, and any order added to core later until it is mapped here.
            _ => creation(false),
        };
        let clause = w.sql();
        w.params.push(Box::new(i64::from(limit)));
        let limit_n = w.params.len();
        w.params.push(Box::new(i64::from(query.offset.unwrap_or(0))));
        let offset_n = w.params.len();
        // The filters name the tasks' columns unqualified: `created_order` shares none of them.
        let text = format!(
            "SELECT {} FROM {from}{clause} ORDER BY {order} LIMIT ${limit_n} OFFSET ${offset_n}",
            task_columns(alias),
        );
        self.run(Durability::Full, |conn| {
            let rows = conn.query(&text, &w.params())?;
            Ok(rows.iter().map(task_from_row).collect::<Result<Vec<_>, _>>()?)
        })
    }

    pub(crate) fn aggregate_tasks(&self, filter: &TaskFilter) -> Result<TaskAggregate, StoreError> {
        let filter = filter.normalized()?;
        let w = Where::of(&filter);
        let text = format!(
            "SELECT kind, status, retry_scheduled_at IS NOT NULL, stale_at IS NOT NULL, count(*), \
             max(updated_at) FROM {}{} GROUP BY 1, 2, 3, 4",
            self.inner.sql.names.tasks,
            w.sql()
        );
        self.run(Durability::Full, |conn| {
            let rows = conn.query(&text, &w.params())?;
            let mut aggregate = TaskAggregate::default();
            for row in &rows {
                let kind: String = row.get(0);
                let status: String = row.get(1);
                let status =
                    TaskStatus::parse(&status).ok_or_else(|| crate::error::corrupt("status"))?;
                let state = LifecycleState::resolve(status, row.get(2), row.get(3));
                let count = u64::try_from(row.get::<_, i64>(4)).unwrap_or(0);
                let updated_at = Timestamp::from_millis(row.get(5));
                aggregate.add_n(&kind, status, state, updated_at, count);
            }
            Ok(aggregate)
        })
    }

    pub(crate) fn steps_of(
        &self,
        id: &TaskId,
        query: &StepQuery,
    ) -> Result<Vec<StepRecord>, StoreError> {
        let limit = i64::from(validate_page_limit("limit", query.limit)?);
        let after = i64::try_from(query.after_seq.unwrap_or(0)).unwrap_or(i64::MAX);
        let names = &self.inner.sql.names;
        let exists = format!("SELECT 1 FROM {} WHERE id = $1", names.tasks);
        let direction = if query.latest { "DESC" } else { "ASC" };
        let text = format!(
            "SELECT {STEP_COLUMNS} FROM {} WHERE task_id = $1 AND seq > $2 ORDER BY seq {direction} LIMIT $3",
            names.steps
        );
        self.run(Durability::Full, |conn| {
            if conn.query(&exists, &[&id.as_str()])?.is_empty() {
                return Err(StoreError::NotFound { id: id.clone() }.into());
            }
            let rows = conn.query(&text, &[&id.as_str(), &after, &limit])?;
            let mut steps = rows.iter().map(step_from_row).collect::<Result<Vec<_>, _>>()?;
            if query.latest {
                steps.reverse();
            }
            Ok(steps)
        })
    }
}
