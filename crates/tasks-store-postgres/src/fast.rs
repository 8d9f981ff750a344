//! The frequent worker writes (heartbeat, progress, steps, complete) as one statement each:
//! one round trip instead of a read and a guarded write.
//!
//! The benchmark showed the two-round-trip path (read, apply core's transition, write back)
//! costing half of these writes' time. Each statement here is core's transition written in
//! SQL, lease check included (`status IN ('claimed', 'running') AND lease_token = $token AND
//! lease_expires_at > $now`, which is `transition::check_lease`), and each sets exactly the
//! fields the transition sets:
//! - heartbeat: `transition::heartbeat` (lease renewed, sign of life);
//! - progress: `transition::set_progress` (given fields replaced, others kept; sign of life);
//! - steps: `transition::append_steps` (the next `seq` numbers, the current attempt, one
//!   revision for the batch; sign of life);
//! - complete: `transition::complete`, one task, or a batch of distinct tasks (the short path
//!   of `finish_batch`, in the `batch` module);
//! - start, for a batch of distinct tasks: `transition::start` (the `batch` module).
//!
//! Every one raises `revision` by one and sets `updated_at`. No row matched means the lease
//! is lost (an unknown task has lost it too). The conformance suite and the model-based test
//! compare the results with core's transitions. The statements find their tasks by id: the
//! status check is written so that the planner cannot use the active-tasks index instead
//! (see [`active_by_id`]).

use tasks_core::limits::stored_percent;
use tasks_core::{
    Lease, NewStep, ProgressUpdate, StepId, StepRecord, StoreError, TaskRecord, Timestamp,
};

use crate::pool::{Db, OpError};
use crate::row::task_from_row;
use crate::sql::{ACTIVE, active_by_id};
use crate::store::{Durability, PostgresTaskStore};
use crate::worker::lease_lost;

/// The SQL of the one-statement writes.
#[derive(Debug)]
pub(crate) struct FastSql {
    heartbeat: String,
    progress: String,
    steps: String,
    complete: String,
    /// `$1` ids, `$2` tokens, `$3` now, `$4` outputs: completes distinct tasks.
    pub(crate) complete_batch: String,
    /// `$1` ids, `$2` tokens, `$3` now: starts distinct tasks; one row per task found, with the
    /// started task (or NULLs), then the task's id, status and whether the lease was live.
    pub(crate) start_batch: String,
}

impl FastSql {
    /// `$1` id, `$2` token, `$3` now, then each statement's own parameters.
    pub(crate) fn new(tasks: &str, steps: &str, columns: &str) -> Self {
        let lease = format!(
            "id = $1 AND lease_token = $2 AND {} AND lease_expires_at > $3",
            active_by_id("")
        );
        let touched = "revision = revision + 1, updated_at = $3";
        let alive = "last_heartbeat_at = $3, stale_at = NULL, stale_reason = NULL";
        let t_active = active_by_id("t");
        let t_columns: String =
            columns.split(", ").map(|column| format!("t.{column}")).collect::<Vec<_>>().join(", ");
        FastSql {
            // The tasks are locked first (in id order) and read as committed, so the update and
            // the answer for a task it refuses agree on the task's current state.
            start_batch: format!(
                "WITH v AS (SELECT * FROM unnest($1::text[], $2::text[]) AS v(id, token)), \
                 l AS (SELECT t.id, t.status, coalesce(t.lease_token = v.token AND t.{ACTIVE} \
                         AND t.lease_expires_at > $3, false) AS leased \
                     FROM {tasks} AS t JOIN v ON t.id = v.id ORDER BY t.id FOR UPDATE OF t), \
                 u AS (UPDATE {tasks} AS t SET revision = t.revision + 1, updated_at = $3, \
                         status = 'running', started_at = $3, {alive} \
                     FROM l WHERE t.id = l.id AND l.leased AND l.status = 'claimed' \
                     RETURNING {t_columns}) \
                 SELECT u.*, l.id, l.status, l.leased FROM l LEFT JOIN u ON u.id = l.id"
            ),
            complete_batch: format!(
                "UPDATE {tasks} AS t SET revision = t.revision + 1, updated_at = $3, status = 'succeeded', \
                 output = v.output, error = NULL, finished_at = $3, stale_at = NULL, stale_reason = NULL, \
                 lease_token = NULL, lease_expires_at = NULL \
                 FROM unnest($1::text[], $2::text[], $4::json[]) AS v(id, token, output) \
                 WHERE t.id = v.id AND t.lease_token = v.token AND {t_active} AND t.lease_expires_at > $3 \
                 RETURNING {t_columns}"
            ),
            heartbeat: format!(
                "UPDATE {tasks} SET {touched}, lease_expires_at = $4, {alive} WHERE {lease} RETURNING {columns}"
            ),
            progress: format!(
                "UPDATE {tasks} SET {touched}, progress_percent = coalesce($4::float8, progress_percent), \
                 progress_label = coalesce($5::text, progress_label), \
                 progress_meta = coalesce($6::json, progress_meta), {alive} \
                 WHERE {lease} RETURNING {columns}"
            ),
            steps: format!(
                "WITH u AS (UPDATE {tasks} SET {touched}, last_step_seq = last_step_seq + $4, {alive} \
                     WHERE {lease} RETURNING {columns}), \
                 s AS (INSERT INTO {steps} \
                     (task_id, seq, id, attempt, kind, level, message, meta, percent, created_at) \
                     SELECT u.id, u.last_step_seq - $4 + v.ord, v.id, u.attempt, v.kind, v.level, \
                            v.message, v.meta, v.percent, $3 \
                     FROM u, unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::json[], $10::float8[]) \
                         WITH ORDINALITY AS v(id, kind, level, message, meta, percent, ord)) \
                 SELECT * FROM u"
            ),
            complete: format!(
                "UPDATE {tasks} SET {touched}, status = 'succeeded', output = $4, error = NULL, \
                 finished_at = $3, stale_at = NULL, stale_reason = NULL, lease_token = NULL, \
                 lease_expires_at = NULL WHERE {lease} RETURNING {columns}"
            ),
        }
    }
}

impl PostgresTaskStore {
    /// Runs one lease-fenced statement and decodes the task it returns.
    fn fenced(
        &self,
        durability: Durability,
        lease: &Lease,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<TaskRecord, StoreError> {
        self.run(durability, |conn| {
            // One autocommit statement: a failure while it runs has an unknown outcome.
            let rows = conn.query(sql, params).map_err(OpError::unknown)?;
            match rows.first() {
                Some(row) => Ok(task_from_row(row)?),
                None => Err(lease_lost(&lease.task_id).into()),
            }
        })
    }

    pub(crate) fn fast_heartbeat(
        &self,
        lease: &Lease,
        lease_for: std::time::Duration,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        let expires = now.saturating_add(lease_for).as_millis();
        let sql = &self.inner.fast.heartbeat;
        let params: [&(dyn postgres::types::ToSql + Sync); 4] =
            [&lease.task_id.as_str(), &lease.token.as_str(), &now.as_millis(), &expires];
        self.fenced(Durability::Relaxed, lease, sql, &params)
    }

    pub(crate) fn fast_progress(
        &self,
        lease: &Lease,
        update: &ProgressUpdate,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        let meta = update.meta.as_ref().map(postgres::types::Json);
        let percent = update.percent.map(stored_percent);
        let sql = &self.inner.fast.progress;
        let params: [&(dyn postgres::types::ToSql + Sync); 6] = [
            &lease.task_id.as_str(),
            &lease.token.as_str(),
            &now.as_millis(),
            &percent,
            &update.label,
            &meta,
        ];
        self.fenced(Durability::Relaxed, lease, sql, &params)
    }

    pub(crate) fn fast_steps(
        &self,
        lease: &Lease,
        steps: &[NewStep],
        now: Timestamp,
    ) -> Result<(TaskRecord, Vec<StepRecord>), StoreError> {
        let ids: Vec<StepId> = steps.iter().map(|_| StepId::generate()).collect();
        let id_texts: Vec<&str> = ids.iter().map(StepId::as_str).collect();
        let kinds: Vec<&str> = steps.iter().map(|step| step.kind.as_str()).collect();
        let levels: Vec<&str> = steps.iter().map(|step| step.level.as_str()).collect();
        let messages: Vec<&str> = steps.iter().map(|step| step.message.as_str()).collect();
        let metas: Vec<Option<postgres::types::Json<&tasks_core::JsonObject>>> =
            steps.iter().map(|step| step.meta.as_ref().map(postgres::types::Json)).collect();
        let percents: Vec<Option<f64>> =
            steps.iter().map(|step| step.percent.map(stored_percent)).collect();
        let count = i64::try_from(steps.len()).unwrap_or(i64::MAX);
        let sql = &self.inner.fast.steps;
        let params: [&(dyn postgres::types::ToSql + Sync); 10] = [
            &lease.task_id.as_str(),
            &lease.token.as_str(),
            &now.as_millis(),
            &count,
            &id_texts,
            &kinds,
            &levels,
            &messages,
            &metas,
            &percents,
        ];
        let task = self.fenced(Durability::Relaxed, lease, sql, &params)?;
        // The statement numbered the steps after the task's previous last seq, as core does.
        let first = task.last_step_seq.saturating_sub(steps.len() as u64);
        let records = steps
            .iter()
            .zip(ids)
            .enumerate()
            .map(|(index, (step, id))| StepRecord {
                id,
                task_id: task.id.clone(),
                seq: first + index as u64 + 1,
                attempt: task.attempt,
                kind: step.kind.clone(),
                level: step.level.clone(),
                message: step.message.clone(),
                meta: step.meta.clone(),
                percent: percents[index],
                created_at: now,
            })
            .collect();
        Ok((task, records))
    }

    pub(crate) fn fast_complete(
        &self,
        lease: &Lease,
        output: &serde_json::Value,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        let sql = &self.inner.fast.complete;
        let params: [&(dyn postgres::types::ToSql + Sync); 4] =
            [&lease.task_id.as_str(), &lease.token.as_str(), &now.as_millis(), output];
        self.fenced(Durability::Full, lease, sql, &params)
    }
}
