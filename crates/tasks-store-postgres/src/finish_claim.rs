//! `finish_and_claim`: a host's final writes and its next claim in one transaction.
//!
//! The final writes are applied as `finish_batch` applies them (see the `batch` module: the
//! completions' statement and the general path), then the claim runs (see the `claim` module),
//! all in one claim transaction: one commit instead of two, and the claim sees the tasks just
//! finished as they now are (a concurrency key they held is free, a retry due now is
//! claimable). A lease too short to start takes the two calls one after the other, as the
//! trait's default does.

use tasks_core::{ClaimRequest, Finish, FinishedAndClaimed, StoreError, Timestamp};

use crate::batch::{Checked, finish_valid_in};
use crate::claim::{claim_in, claimed_before};
use crate::pool::{BEGIN_CLAIM, Tx};
use crate::store::{Durability, PostgresTaskStore};

impl PostgresTaskStore {
    /// `finish_and_claim` for a request that `TaskStore::finish_and_claim` has validated.
    pub(crate) fn finish_and_claim_tasks(
        &self,
        finishes: &[Finish],
        request: &ClaimRequest,
        now: Timestamp,
    ) -> Result<FinishedAndClaimed, StoreError> {
        if now.saturating_add(request.lease) <= now {
            // `claim_and_start_tasks` answers this case with a plain claim.
            let finished = self.finish_leases(finishes, now)?;
            return Ok(FinishedAndClaimed {
                finished,
                claimed: self.claim_and_start_tasks(request, now),
            });
        }
        let checked = Checked::new(finishes);
        let sql = &self.inner.sql;
        let complete_sql = &self.inner.fast.complete_batch;
        let (applied, claimed) = self.run(Durability::Full, |conn| {
            let mut tx = Tx::begin_with(conn, BEGIN_CLAIM)?;
            let applied =
                finish_valid_in(&mut tx, sql, complete_sql, finishes, &checked.valid, now)?;
            let claimed = claim_in(&mut tx, sql, request, now, true)?
                .into_iter()
                .map(|started| claimed_before(started, now))
                .collect::<Result<Vec<_>, StoreError>>()?;
            tx.commit()?;
            Ok((applied, claimed))
        })?;
        Ok(FinishedAndClaimed {
            finished: self.answers(checked, applied, now),
            claimed: Ok(claimed),
        })
    }
}
