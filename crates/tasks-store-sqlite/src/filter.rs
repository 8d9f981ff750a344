//! [`TaskFilter`] as SQL: a `WHERE` clause with anonymous placeholders and its parameters,
//! meaning exactly what [`TaskFilter::matches`] means (AND across conditions, OR within a
//! list, an empty list or absent key does not filter).

use rusqlite::types::Value;
use tasks_core::{LifecycleState, TaskFilter};

/// A `WHERE` clause (always valid SQL, `1` when nothing filters) and its parameters in order.
pub(crate) struct Where {
    /// The clause.
    pub(crate) clause: String,
    /// Its parameters, in the order of the placeholders.
    pub(crate) params: Vec<Value>,
}

/// Builds the clause of a normalized filter.
pub(crate) fn where_clause(filter: &TaskFilter) -> Where {
    let mut terms: Vec<String> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    let statuses: Vec<String> =
        filter.statuses.iter().map(|status| status.as_str().to_owned()).collect();
    for (column, values) in [
        ("id", filter.task_ids.iter().map(|id| id.to_string()).collect::<Vec<_>>()),
        ("kind", filter.kinds.clone()),
        ("status", statuses),
    ] {
        if !values.is_empty() {
            terms.push(format!("{column} IN ({})", placeholders(values.len())));
            params.extend(values.into_iter().map(Value::from));
        }
    }
    if !filter.channels.is_empty() {
        terms.push(format!(
            "id IN (SELECT task_id FROM tasks_channels WHERE channel IN ({}))",
            placeholders(filter.channels.len())
        ));
        params.extend(filter.channels.iter().cloned().map(Value::from));
    }
    if !filter.states.is_empty() {
        let states: Vec<&str> = filter.states.iter().map(|state| state_condition(*state)).collect();
        terms.push(format!("({})", states.join(" OR ")));
    }
    for (column, key) in [
        ("dedupe_key", &filter.dedupe_key),
        ("concurrency_key", &filter.concurrency_key),
        ("supersede_key", &filter.supersede_key),
    ] {
        if let Some(key) = key {
            terms.push(format!("{column} = ?"));
            params.push(Value::from(key.clone()));
        }
    }
    let clause = if terms.is_empty() { "1".to_owned() } else { terms.join(" AND ") };
    Where { clause, params }
}

fn placeholders(count: usize) -> String {
    vec!["?"; count].join(", ")
}

/// The rows in lifecycle `state`: the SQL form of [`LifecycleState::resolve`].
fn state_condition(state: LifecycleState) -> &'static str {
    match state {
        LifecycleState::Queued => "(status = 'queued' AND retry_scheduled_at IS NULL)",
        LifecycleState::Retrying => "(status = 'queued' AND retry_scheduled_at IS NOT NULL)",
        LifecycleState::Claimed => "(status = 'claimed' AND stale_at IS NULL)",
        LifecycleState::Running => "(status = 'running' AND stale_at IS NULL)",
        LifecycleState::Stale => "(status IN ('claimed', 'running') AND stale_at IS NOT NULL)",
        LifecycleState::Succeeded => "status = 'succeeded'",
        LifecycleState::Failed => "status = 'failed'",
        LifecycleState::Cancelled => "status = 'cancelled'",
    }
}
