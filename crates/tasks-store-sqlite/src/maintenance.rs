//! Maintenance writes: recovering expired leases, marking silent tasks stale, and retention
//! (`compact`), each following `tasks_core`'s rules and run in one write transaction.

use std::collections::HashSet;
use std::time::Duration;

use tasks_core::transition;
use tasks_core::{
    ChangeKind, RetentionPolicy, RetentionReport, StoreError, TaskId, TaskRecord, TaskStatus,
    Timestamp,
};

use crate::changes;
use crate::error::{corrupt, sql};
use crate::recent::Change;
use crate::row::{self, TASK_COLUMNS};
use crate::schema::FINISHED_STATUS;
use crate::tx::WriteTx;
use crate::writes::save;

/// Requeues (or finishes) up to `limit` claimed or running tasks whose lease ran out, oldest
/// lease first, each with the `event` step core's `expire_lease` writes.
pub(crate) fn recover_expired(
    tx: &WriteTx<'_>,
    limit: u32,
    now: Timestamp,
) -> Result<Vec<TaskRecord>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let sql_text = format!(
        "SELECT {TASK_COLUMNS} FROM tasks WHERE status IN ('claimed', 'running') \
         AND (lease_expires_at IS NULL OR lease_expires_at <= ?1) \
         ORDER BY lease_expires_at, id LIMIT {limit}"
    );
    let expired = row::query_records(tx, &sql_text, &[now.as_millis().into()])?;
    let mut recovered = Vec::with_capacity(expired.len());
    for record in expired {
        let (next, step) = transition::expire_lease(&record, now, now)
            .map_err(|refusal| StoreError::refused(&record.id, refusal))?;
        row::insert_steps(tx, std::slice::from_ref(&step))?;
        save(tx, record, &next)?;
        recovered.push(next);
    }
    Ok(recovered)
}

/// Marks stale up to `limit` claimed or running tasks silent for at least `silent_for`, in
/// the order of their last heartbeat (none first), then id. The caller validated `reason`.
pub(crate) fn mark_stale(
    tx: &WriteTx<'_>,
    silent_for: Duration,
    reason: &str,
    limit: u32,
    now: Timestamp,
) -> Result<Vec<TaskRecord>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    // The SQL cutoff is core's silence rule (last sign of life + silent_for <= now) solved for
    // the last sign; `is_silent` below stays the judge.
    let cutoff = now.saturating_sub(silent_for).as_millis();
    let sql_text = format!(
        "SELECT {TASK_COLUMNS} FROM tasks WHERE status IN ('claimed', 'running') \
         AND stale_at IS NULL AND coalesce(last_heartbeat_at, claimed_at, updated_at) <= ?1 \
         ORDER BY last_heartbeat_at, id LIMIT {limit}"
    );
    let silent = row::query_records(tx, &sql_text, &[cutoff.into()])?;
    let mut marked = Vec::with_capacity(silent.len());
    for record in silent.into_iter().filter(|record| transition::is_silent(record, silent_for, now))
    {
        let next = transition::mark_stale(&record, silent_for, reason, now)
            .map_err(|refusal| StoreError::refused(&record.id, refusal))?;
        save(tx, record, &next)?;
        marked.push(next);
    }
    Ok(marked)
}

/// Applies a retention policy, then prunes the change feed to `change_log_limit` entries.
pub(crate) fn compact(
    tx: &WriteTx<'_>,
    policy: &RetentionPolicy,
    now: Timestamp,
    change_log_limit: u64,
) -> Result<RetentionReport, StoreError> {
    let mut doomed: Vec<(TaskId, u64)> = Vec::new();
    let mut seen: HashSet<TaskId> = HashSet::new();
    let mut doom = |found: Vec<(TaskId, u64)>| {
        for (id, revision) in found {
            if seen.insert(id.clone()) {
                doomed.push((id, revision));
            }
        }
    };
    for (status, ttl) in [
        (TaskStatus::Succeeded, policy.success_ttl),
        (TaskStatus::Failed, policy.failed_ttl),
        (TaskStatus::Cancelled, policy.cancelled_ttl),
    ] {
        if let Some(ttl) = ttl {
            // finished_at + ttl <= now, solved for finished_at.
            let cutoff = now.saturating_sub(ttl).as_millis();
            doom(doomed_ids(
                tx,
                &format!(
                    "SELECT id, revision FROM tasks WHERE status = ?1 AND finished_at <= ?2 \
                     AND {FINISHED_STATUS}"
                ),
                &[status.as_str().to_owned().into(), cutoff.into()],
            )?);
        }
    }
    for status in [TaskStatus::Succeeded, TaskStatus::Failed] {
        if let Some(keep) = policy.keep_latest(status) {
            doom(doomed_ids(
                tx,
                &format!(
                    "SELECT id, revision FROM (SELECT id, revision, row_number() OVER \
                     (PARTITION BY kind ORDER BY finished_at DESC, id DESC) AS rank FROM tasks \
                     WHERE status = ?1 AND {FINISHED_STATUS}) WHERE rank > ?2"
                ),
                &[status.as_str().to_owned().into(), keep.into()],
            )?);
        }
    }
    let mut report = RetentionReport::default();
    for (id, revision) in &doomed {
        delete_task(tx, id)?;
        changes::log(tx, id, *revision, ChangeKind::Deleted)?;
        report.deleted_tasks += 1;
    }
    if let Some(limit) = policy.step_limit_per_task {
        (report.compacted_tasks, report.deleted_steps) = trim_steps(tx, limit)?;
    }
    changes::prune(tx, change_log_limit)?;
    Ok(report)
}

fn doomed_ids(
    tx: &WriteTx<'_>,
    sql_text: &str,
    params: &[rusqlite::types::Value],
) -> Result<Vec<(TaskId, u64)>, StoreError> {
    let mut statement = tx.prepare_cached(sql_text).map_err(sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(params.iter())).map_err(sql)?;
    let mut found = Vec::new();
    while let Some(row) = rows.next().map_err(sql)? {
        let id: String = row.get(0).map_err(sql)?;
        let revision: i64 = row.get(1).map_err(sql)?;
        found.push((
            TaskId::new(id).map_err(|e| corrupt(format_args!("task id: {e}")))?,
            u64::try_from(revision).map_err(|_| corrupt(format_args!("revision {revision}")))?,
        ));
    }
    Ok(found)
}

/// Deletes a task with its steps and channel rows.
fn delete_task(tx: &WriteTx<'_>, id: &TaskId) -> Result<(), StoreError> {
    tx.note(Change::Forget(id.clone()));
    for statement in [
        "DELETE FROM tasks_steps WHERE task_id = ?1",
        "DELETE FROM tasks_channels WHERE task_id = ?1 AND channel IN \
         (SELECT value FROM json_each((SELECT channels FROM tasks WHERE id = ?1)))",
        "DELETE FROM tasks WHERE id = ?1",
    ] {
        tx.prepare_cached(statement).map_err(sql)?.execute([id.as_str()]).map_err(sql)?;
    }
    Ok(())
}

/// Keeps only the latest `limit` steps of every task; returns how many tasks lost steps and
/// how many steps went. Steps are numbered without gaps and only
/// ever trimmed from the front, so a task's latest `limit` are those with
/// `seq > last_step_seq - limit`; only tasks still holding an older step are visited.
fn trim_steps(tx: &WriteTx<'_>, limit: u32) -> Result<(u64, u64), StoreError> {
    let limit = i64::from(limit);
    let mut statement = tx
        .prepare_cached(
            "SELECT t.id, t.last_step_seq - ?1 FROM tasks AS t WHERE t.last_step_seq > ?1 \
             AND EXISTS (SELECT 1 FROM tasks_steps AS s WHERE s.task_id = t.id \
             AND s.seq <= t.last_step_seq - ?1)",
        )
        .map_err(sql)?;
    let over: Vec<(String, i64)> = statement
        .query_map([limit], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    let (mut tasks, mut deleted) = (0u64, 0u64);
    let mut delete = tx
        .prepare_cached("DELETE FROM tasks_steps WHERE task_id = ?1 AND seq <= ?2")
        .map_err(sql)?;
    for (id, through) in over {
        let steps = delete.execute(rusqlite::params![id, through]).map_err(sql)? as u64;
        if steps > 0 {
            tasks += 1;
            deleted += steps;
        }
    }
    Ok((tasks, deleted))
}
