//! Claiming and leases: [`ClaimRequest`] (what a runner asks for), [`KindClaim`] (per-kind
//! limits) and [`Lease`] (what a worker presents on every write).
//!
//! Claim rules every store applies, atomically, across every process sharing the store:
//! - only `queued` tasks whose `scheduledAt` has come are claimable;
//! - higher `priority` first, then the longest due (`scheduledAt` ascending), then by id;
//! - at most `limit` tasks per call, at most `KindClaim::limit` per kind in the call;
//! - a kind's `maxActive` and the request's `maxActive` cap the tasks claimed or running in
//!   the whole store (of that kind, or of every kind) after the claim;
//! - at most one task per `concurrencyKey` is claimed or running in the whole store;
//! - a claimed task gets `attempt + 1`, a fresh lease token, and a lease of `lease` from now.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{InvalidInput, StoreError};
use crate::id::{LeaseToken, TaskId};
use crate::limits;
use crate::record::TaskRecord;
use crate::timestamp::Timestamp;

/// Most tasks one claim call may take.
pub const MAX_CLAIM_BATCH: u32 = 1000;

/// The lease a worker holds on a task: its id and the token of the current claim.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    /// The task.
    pub task_id: TaskId,
    /// The token minted by the claim.
    pub token: LeaseToken,
}

/// A kind a runner claims, with its limits.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KindClaim {
    /// The kind.
    pub kind: String,
    /// At most this many of the kind in this call (the runner's free slots for it).
    pub limit: Option<u32>,
    /// At most this many of the kind claimed or running in the whole store.
    pub max_active: Option<u32>,
}

impl KindClaim {
    /// A kind with no limit of its own.
    pub fn any(kind: impl Into<String>) -> Self {
        KindClaim { kind: kind.into(), limit: None, max_active: None }
    }
}

/// The limits a [`ClaimRequest`] sets on one kind ([`ClaimRequest::kind_limits`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct KindLimits {
    /// At most this many of the kind in this call.
    pub limit: Option<u32>,
    /// At most this many of the kind claimed or running in the whole store.
    pub max_active: Option<u32>,
}

/// Which kinds a claim may take.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type", content = "kinds")]
pub enum KindSelector {
    /// Any kind.
    Any,
    /// Only these kinds, each with its limits.
    Only(Vec<KindClaim>),
}

/// What a runner asks of [`TaskStore::claim`](crate::TaskStore::claim).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRequest {
    /// The runner's id, recorded as `leaseOwner`.
    pub runner: String,
    /// At most this many tasks (1 to 1000): the runner's free slots.
    pub limit: u32,
    /// Which kinds.
    pub kinds: KindSelector,
    /// At most this many tasks claimed or running in the whole store.
    pub max_active: Option<u32>,
    /// How long the lease lasts unless renewed.
    #[serde(rename = "leaseMs", with = "crate::serde_ms::required")]
    pub lease: Duration,
}

impl ClaimRequest {
    /// A request for up to `limit` tasks of any kind with a lease of `lease`.
    pub fn new(runner: impl Into<String>, limit: u32, lease: Duration) -> Self {
        ClaimRequest {
            runner: runner.into(),
            limit,
            kinds: KindSelector::Any,
            max_active: None,
            lease,
        }
    }

    /// The same request restricted to these kinds.
    #[must_use]
    pub fn kinds(mut self, kinds: Vec<KindClaim>) -> Self {
        self.kinds = KindSelector::Only(kinds);
        self
    }

    /// The same request with a store-wide cap on claimed-or-running tasks.
    #[must_use]
    pub fn max_active(mut self, max_active: u32) -> Self {
        self.max_active = Some(max_active);
        self
    }

    /// Checks the request.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] for an empty or long runner id, a limit outside 1 to 1000, a zero
    /// lease, or an invalid kind.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        limits::validate_text("runner", &self.runner, true)?;
        if self.runner.len() > limits::MAX_KEY_LEN {
            return Err(InvalidInput::Text {
                field: "runner",
                reason: "it is longer than 512 bytes",
            });
        }
        if !(1..=MAX_CLAIM_BATCH).contains(&self.limit) {
            return Err(InvalidInput::Range { field: "limit", expected: "from 1 to 1000" });
        }
        if self.lease.is_zero() {
            return Err(InvalidInput::Range { field: "lease", expected: "longer than zero" });
        }
        if let KindSelector::Only(kinds) = &self.kinds {
            for claim in kinds {
                limits::validate_kind(&claim.kind)?;
            }
        }
        Ok(())
    }

    /// The limits the request sets on `kind`: `None` when the request does not take that kind.
    /// When a kind is listed twice, its first entry applies. Nothing is copied, so a store may
    /// ask for every candidate it reads.
    pub fn kind_limits(&self, kind: &str) -> Option<KindLimits> {
        match &self.kinds {
            KindSelector::Any => Some(KindLimits::default()),
            KindSelector::Only(kinds) => kinds
                .iter()
                .find(|claim| claim.kind == kind)
                .map(|claim| KindLimits { limit: claim.limit, max_active: claim.max_active }),
        }
    }
}

/// A task claimed and started in one call ([`TaskStore::claim_and_start`]): the record as the
/// claim left it, and what starting it gave.
///
/// [`TaskStore::claim_and_start`]: crate::TaskStore::claim_and_start
#[derive(Debug)]
pub struct ClaimedStart {
    /// The task as [`TaskStore::claim`](crate::TaskStore::claim) returns it: `claimed`, with
    /// its lease.
    pub claimed: TaskRecord,
    /// What [`TaskStore::start`](crate::TaskStore::start) gives for that lease: the running
    /// task, which is what the store now holds, or the refusal.
    pub started: Result<TaskRecord, StoreError>,
}

/// What [`TaskStore::finish_and_claim`] gives: the answer to each final write, then what the
/// claim that followed them took.
///
/// [`TaskStore::finish_and_claim`]: crate::TaskStore::finish_and_claim
#[derive(Debug)]
pub struct FinishedAndClaimed {
    /// One answer per final write, in input order, as [`TaskStore::finish_batch`] gives them.
    ///
    /// [`TaskStore::finish_batch`]: crate::TaskStore::finish_batch
    pub finished: Vec<Result<TaskRecord, StoreError>>,
    /// The tasks claimed and started after the final writes, as
    /// [`TaskStore::claim_and_start`](crate::TaskStore::claim_and_start) gives them, or why
    /// the claim failed when the final writes were written without it.
    pub claimed: Result<Vec<ClaimedStart>, StoreError>,
}

/// Whether `record` may be claimed at `now`: queued and due.
pub fn is_claimable(record: &TaskRecord, now: Timestamp) -> bool {
    record.status == crate::TaskStatus::Queued && record.scheduled_at <= now
}

/// The claim order: higher priority first, then earliest `scheduledAt`, then id.
pub fn claim_order(a: &TaskRecord, b: &TaskRecord) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then(a.scheduled_at.cmp(&b.scheduled_at))
        .then_with(|| a.id.cmp(&b.id))
}
