//! `finish_and_claim`: a host's final writes and its next claim in one transaction.
//!
//! When every final write is a valid completion of a distinct task (a busy host's usual burst),
//! the completions' statement (the short path of `finish_batch`, see the `batch` module) and
//! the claim (see the `claim` module) share one claim transaction: one commit instead of two,
//! and the claim sees the tasks just completed as finished, so their concurrency keys are free.
//! Other bursts (failures, cancel acknowledgements, an invalid item, a task named twice) and a
//! lease too short to start take the two calls one after the other, as the trait's default
//! does.

use tasks_core::{ClaimRequest, Finish, FinishedAndClaimed, Lease, StoreError, Timestamp};

use crate::batch::complete_all;
use crate::claim::{claim_in, claimed_before};
use crate::pool::{BEGIN_CLAIM, Tx};
use crate::store::{Durability, PostgresTaskStore};
use crate::worker::lease_lost;

impl PostgresTaskStore {
    /// `finish_and_claim` for a request that `TaskStore::finish_and_claim` has validated.
    pub(crate) fn finish_and_claim_tasks(
        &self,
        finishes: &[Finish],
        request: &ClaimRequest,
        now: Timestamp,
    ) -> Result<FinishedAndClaimed, StoreError> {
        let Some(completions) = distinct_completions(finishes) else {
            let finished = self.finish_leases(finishes, now)?;
            return Ok(FinishedAndClaimed {
                finished,
                claimed: self.claim_and_start_tasks(request, now),
            });
        };
        if now.saturating_add(request.lease) <= now {
            // `claim_and_start_tasks` answers this case with a plain claim.
            let finished = self.finish_leases(finishes, now)?;
            return Ok(FinishedAndClaimed {
                finished,
                claimed: self.claim_and_start_tasks(request, now),
            });
        }
        let sql = &self.inner.sql;
        let complete_sql = &self.inner.fast.complete_batch;
        let (mut completed, claimed) = self.run(Durability::Full, |conn| {
            let mut tx = Tx::begin_with(conn, BEGIN_CLAIM)?;
            let completed = complete_all(&mut tx, complete_sql, &completions, now)?;
            let claimed = claim_in(&mut tx, sql, request, now, true)?
                .into_iter()
                .map(|started| claimed_before(started, now))
                .collect::<Result<Vec<_>, StoreError>>()?;
            tx.commit()?;
            Ok((completed, claimed))
        })?;
        let finished = completions
            .iter()
            .map(|(lease, _)| {
                // A task the statement did not complete has lost its lease (or does not exist).
                completed.remove(&lease.task_id).unwrap_or_else(|| Err(lease_lost(&lease.task_id)))
            })
            .collect();
        Ok(FinishedAndClaimed { finished, claimed: Ok(claimed) })
    }
}

/// The completions, when every finish is a valid completion and no two name the same task.
fn distinct_completions(finishes: &[Finish]) -> Option<Vec<(&Lease, &serde_json::Value)>> {
    let mut seen = std::collections::HashSet::with_capacity(finishes.len());
    finishes
        .iter()
        .map(|finish| match finish {
            Finish::Complete { lease, output }
                if finish.validate().is_ok() && seen.insert(&lease.task_id) =>
            {
                Some((lease, output))
            }
            _ => None,
        })
        .collect()
}
