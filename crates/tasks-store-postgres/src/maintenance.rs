//! Maintenance: recovering expired leases, marking silent tasks stale, and retention
//! (`compact`), each following core's rules; the scans lock their rows with
//! `FOR UPDATE SKIP LOCKED`, so several hosts running the same sweep split the work instead
//! of waiting on each other.

use std::time::Duration;

use tasks_core::transition;
use tasks_core::{RetentionPolicy, RetentionReport, StoreError, TaskRecord, TaskStatus, Timestamp};

use crate::pool::{BEGIN_CUSTOM_PLANS, Db, Tx};
use crate::row::task_from_row;
use crate::sql::write_pairs;
use crate::store::{Durability, PostgresTaskStore};

/// `now - ttl` in milliseconds, saturating: a task finished at or before it has outlived `ttl`.
fn cutoff(now: Timestamp, ttl: Option<Duration>) -> Option<i64> {
    ttl.map(|ttl| now.saturating_sub(ttl).as_millis())
}

impl PostgresTaskStore {
    pub(crate) fn recover(
        &self,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        let sql = &self.inner.sql;
        let recovered = self.run(Durability::Full, |conn| {
            let mut tx = Tx::begin_with(conn, BEGIN_CUSTOM_PLANS)?;
            let rows = tx.query(&sql.recover_candidates, &[&now.as_millis(), &i64::from(limit)])?;
            let mut pairs = Vec::with_capacity(rows.len());
            let mut steps = Vec::with_capacity(rows.len());
            for row in &rows {
                let record = task_from_row(row)?;
                let (next, step) = transition::expire_lease(&record, now, now)
                    .map_err(|refusal| StoreError::refused(&record.id, refusal))?;
                pairs.push((record, next));
                steps.push(step);
            }
            write_pairs(&mut tx, sql, &pairs, &steps)?;
            tx.commit()?;
            Ok(pairs.into_iter().map(|(_, next)| next).collect::<Vec<_>>())
        })?;
        if recovered
            .iter()
            .any(|record| record.status == TaskStatus::Queued && record.scheduled_at <= now)
        {
            self.wake();
        }
        Ok(recovered)
    }

    /// Marks silent tasks stale; `TaskStore::mark_stale` has already checked `reason`.
    pub(crate) fn stale(
        &self,
        silent_for: Duration,
        reason: &str,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        let sql = &self.inner.sql;
        let latest_sign = now.saturating_sub(silent_for).as_millis();
        self.run(Durability::Full, |conn| {
            let mut tx = Tx::begin_with(conn, BEGIN_CUSTOM_PLANS)?;
            let rows = tx.query(&sql.stale_candidates, &[&latest_sign, &i64::from(limit)])?;
            let mut pairs = Vec::with_capacity(rows.len());
            for row in &rows {
                let record = task_from_row(row)?;
                // The scan's rule is core's `is_silent`; check with core itself.
                if !transition::is_silent(&record, silent_for, now) {
                    continue;
                }
                let next = transition::mark_stale(&record, silent_for, reason, now)
                    .map_err(|refusal| StoreError::refused(&record.id, refusal))?;
                pairs.push((record, next));
            }
            write_pairs(&mut tx, sql, &pairs, &[])?;
            tx.commit()?;
            Ok(pairs.into_iter().map(|(_, next)| next).collect())
        })
    }

    pub(crate) fn compact_store(
        &self,
        policy: &RetentionPolicy,
        now: Timestamp,
    ) -> Result<RetentionReport, StoreError> {
        let names = &self.inner.sql.names;
        let (tasks, steps, changes) = (&names.tasks, &names.steps, &names.changes);
        let delete_tasks = format!(
            "WITH doomed AS ( \
                 SELECT id FROM {tasks} WHERE (status = 'succeeded' AND finished_at <= $1) \
                     OR (status = 'failed' AND finished_at <= $2) \
                     OR (status = 'cancelled' AND finished_at <= $3) \
                 UNION \
                 SELECT id FROM ( \
                     SELECT id, status, row_number() OVER ( \
                         PARTITION BY kind, status ORDER BY finished_at DESC NULLS LAST, id DESC) AS rank \
                     FROM {tasks} WHERE status IN ('succeeded', 'failed') \
                       AND ($4::int8 IS NOT NULL OR $5::int8 IS NOT NULL)) AS ranked \
                 WHERE (status = 'succeeded' AND rank > $4) OR (status = 'failed' AND rank > $5)), \
             gone AS (DELETE FROM {tasks} WHERE id IN (SELECT id FROM doomed) RETURNING id, revision), \
             logged AS (INSERT INTO {changes} (task_ids, revisions, deleted, at) \
                 SELECT array_agg(id), array_agg(revision), true, $6 FROM gone HAVING count(*) > 0), \
             their_steps AS (DELETE FROM {steps} WHERE task_id IN (SELECT id FROM gone)) \
             SELECT count(*) FROM gone"
        );
        let trim_steps = format!(
            "WITH trimmed AS (DELETE FROM {steps} AS s USING {tasks} AS t \
                 WHERE t.id = s.task_id AND t.last_step_seq > $1 AND s.seq <= t.last_step_seq - $1 \
                 RETURNING s.task_id) \
             SELECT count(*), count(DISTINCT task_id) FROM trimmed"
        );
        let keep_successes = policy.keep_latest_successes_per_kind.map(i64::from);
        let keep_failures = policy.keep_latest_failures_per_kind.map(i64::from);
        let report = self.run(Durability::Full, |conn| {
            let mut tx = Tx::begin_with(conn, BEGIN_CUSTOM_PLANS)?;
            let rows = tx.query(
                &delete_tasks,
                &[
                    &cutoff(now, policy.success_ttl),
                    &cutoff(now, policy.failed_ttl),
                    &cutoff(now, policy.cancelled_ttl),
                    &keep_successes,
                    &keep_failures,
                    &now.as_millis(),
                ],
            )?;
            let deleted: i64 = rows.first().map_or(0, |row| row.get(0));
            let (trimmed_steps, compacted_tasks) = match policy.step_limit_per_task {
                Some(limit) => {
                    let rows = tx.query(&trim_steps, &[&i64::from(limit)])?;
                    rows.first().map_or((0, 0), |row| (row.get::<_, i64>(0), row.get::<_, i64>(1)))
                }
                None => (0, 0),
            };
            tx.commit()?;
            let count = |n: i64| u64::try_from(n).unwrap_or(0);
            Ok(RetentionReport {
                deleted_tasks: count(deleted),
                deleted_steps: count(trimmed_steps),
                compacted_tasks: count(compacted_tasks),
            })
        })?;
        self.prune_changes(now)?;
        Ok(report)
    }

    /// Drops change-feed entries older than the retention, as a prefix of the feed, and
    /// records how far it was cut (older cursors then read as expired).
    fn prune_changes(&self, now: Timestamp) -> Result<(), StoreError> {
        let names = &self.inner.sql.names;
        let (changes, state) = (&names.changes, &names.change_state);
        let cut = now.saturating_sub(self.inner.options.change_retention).as_millis();
        // Only rows below the oldest running transaction are settled; the cut is the newest
        // of those old enough, and everything up to it goes (a clean prefix of the feed).
        let prune = format!(
            "WITH horizon AS ( \
                 SELECT xid, seq FROM {changes} \
                 WHERE at < $1 AND xid < pg_snapshot_xmin(pg_current_snapshot()) \
                 ORDER BY xid DESC, seq DESC LIMIT 1), \
             cut AS (DELETE FROM {changes} AS c USING horizon AS h WHERE (c.xid, c.seq) <= (h.xid, h.seq)) \
             UPDATE {state} AS s SET pruned_xid = h.xid, pruned_seq = h.seq FROM horizon AS h \
             WHERE s.id = 1 AND (s.pruned_xid, s.pruned_seq) < (h.xid, h.seq)"
        );
        self.run(Durability::Full, |conn| {
            // Idempotent, so a repeat after a lost connection is harmless.
            conn.execute(&prune, &[&cut])?;
            Ok(())
        })
    }
}
