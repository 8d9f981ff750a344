//! Maintenance in the memory store: recovering expired leases, marking stale tasks, and
//! retention, each following the rules in `tasks_core`'s docs.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use tasks_core::transition;
use tasks_core::{
    RetentionPolicy, RetentionReport, StoreError, TaskId, TaskRecord, TaskStatus, Timestamp,
};

use super::State;

impl State {
    pub(super) fn recover_expired(
        &mut self,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        let mut expired: Vec<&TaskRecord> = self
            .tasks
            .values()
            .filter(|record| {
                record.status.is_active() && record.lease_expires_at.is_none_or(|at| at <= now)
            })
            .collect();
        expired.sort_by(|a, b| (a.lease_expires_at, &a.id).cmp(&(b.lease_expires_at, &b.id)));
        let mut recovered = Vec::new();
        for record in expired.into_iter().take(limit as usize) {
            let (next, step) = transition::expire_lease(record, now, now)
                .map_err(|refusal| StoreError::refused(&record.id, refusal))?;
            recovered.push((next, step));
        }
        let mut records = Vec::with_capacity(recovered.len());
        for (record, step) in recovered {
            self.put_steps(vec![step]);
            self.put(record.clone());
            records.push(record);
        }
        Ok(records)
    }

    pub(super) fn mark_stale(
        &mut self,
        silent_for: Duration,
        reason: &str,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        tasks_core::limits::validate_text("reason", reason, true)?;
        let mut silent: Vec<&TaskRecord> = self
            .tasks
            .values()
            .filter(|record| transition::is_silent(record, silent_for, now))
            .collect();
        silent.sort_by(|a, b| (a.last_heartbeat_at, &a.id).cmp(&(b.last_heartbeat_at, &b.id)));
        let marked: Vec<TaskRecord> = silent
            .into_iter()
            .take(limit as usize)
            .map(|record| {
                transition::mark_stale(record, silent_for, reason, now)
                    .map_err(|refusal| StoreError::refused(&record.id, refusal))
            })
            .collect::<Result<_, _>>()?;
        for record in &marked {
            self.put(record.clone());
        }
        Ok(marked)
    }

    pub(super) fn compact(&mut self, policy: &RetentionPolicy, now: Timestamp) -> RetentionReport {
        let mut doomed: HashSet<TaskId> = self
            .tasks
            .values()
            .filter(|record| policy.ttl_expired(record, now))
            .map(|record| record.id.clone())
            .collect();

        // Keep only the latest N finished tasks per kind and outcome.
        let mut groups: BTreeMap<(&str, TaskStatus), Vec<&TaskRecord>> = BTreeMap::new();
        for record in self.tasks.values() {
            if policy.keep_latest(record.status).is_some() {
                groups.entry((record.kind.as_str(), record.status)).or_default().push(record);
            }
        }
        for ((_, status), mut records) in groups {
            let keep = policy.keep_latest(status).unwrap_or(u32::MAX) as usize;
            records.sort_by(|a, b| (b.finished_at, &b.id).cmp(&(a.finished_at, &a.id)));
            doomed.extend(records.into_iter().skip(keep).map(|record| record.id.clone()));
        }

        let mut report = RetentionReport::default();
        for id in &doomed {
            self.delete(id);
            report.deleted_tasks += 1;
        }
        if let Some(limit) = policy.step_limit_per_task {
            for steps in self.steps.values_mut() {
                let excess = steps.len().saturating_sub(limit as usize);
                if excess > 0 {
                    // Steps are kept in seq order, so the oldest come first.
                    steps.drain(..excess);
                    report.deleted_steps += excess as u64;
                    report.compacted_tasks += 1;
                }
            }
        }
        report
    }
}
