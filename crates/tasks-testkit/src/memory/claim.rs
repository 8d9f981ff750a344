//! Claiming in the memory store: the claim rules of `tasks_core::lease`, applied to every
//! queued task under the store's one lock.

use std::collections::{HashMap, HashSet};

use tasks_core::lease::{claim_order, is_claimable};
use tasks_core::transition;
use tasks_core::{ClaimRequest, LeaseToken, StoreError, TaskRecord, Timestamp};

use super::State;

impl State {
    pub(super) fn claim(
        &mut self,
        request: &ClaimRequest,
        now: Timestamp,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        request.validate()?;
        let active: Vec<&TaskRecord> =
            self.tasks.values().filter(|record| record.status.is_active()).collect();
        let mut active_total = active.len() as u64;
        let mut active_by_kind: HashMap<String, u64> = HashMap::new();
        let mut busy_keys: HashSet<String> = HashSet::new();
        for record in &active {
            *active_by_kind.entry(record.kind.clone()).or_default() += 1;
            if let Some(key) = &record.concurrency_key {
                busy_keys.insert(key.clone());
            }
        }
        let mut candidates: Vec<&TaskRecord> = self
            .tasks
            .values()
            .filter(|record| {
                is_claimable(record, now) && request.kind_limits(&record.kind).is_some()
            })
            .collect();
        candidates.sort_by(|a, b| claim_order(a, b));

        let mut taken_by_kind: HashMap<String, u32> = HashMap::new();
        let mut claimed = Vec::new();
        for candidate in candidates {
            if claimed.len() >= request.limit as usize
                || request.max_active.is_some_and(|max| active_total >= u64::from(max))
            {
                break;
            }
            let Some(limits) = request.kind_limits(&candidate.kind) else { continue };
            let taken = taken_by_kind.get(&candidate.kind).copied().unwrap_or(0);
            let active_of_kind = active_by_kind.get(&candidate.kind).copied().unwrap_or(0);
            if limits.limit.is_some_and(|limit| taken >= limit)
                || limits.max_active.is_some_and(|max| active_of_kind >= u64::from(max))
            {
                continue;
            }
            if let Some(key) = &candidate.concurrency_key
                && busy_keys.contains(key)
            {
                continue;
            }
            let next = transition::claim(
                candidate,
                &request.runner,
                LeaseToken::generate(),
                request.lease,
                now,
            )
            .map_err(|refusal| StoreError::refused(&candidate.id, refusal))?;
            if let Some(key) = &next.concurrency_key {
                busy_keys.insert(key.clone());
            }
            active_total += 1;
            *active_by_kind.entry(next.kind.clone()).or_default() += 1;
            *taken_by_kind.entry(next.kind.clone()).or_default() += 1;
            claimed.push(next);
        }
        for record in &claimed {
            self.put(record.clone());
        }
        Ok(claimed)
    }
}
