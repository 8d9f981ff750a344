//! Claiming: one short transaction per call, no global lock.
//!
//! 1. When the request carries `maxActive` limits, take the matching transaction-scoped
//!    advisory locks (the store-wide one, then one per limited kind, in a fixed order) and
//!    count the claimed-or-running tasks they cap. Claims without limits take no lock.
//! 2. Select candidates in claim order (priority, then `scheduledAt`, then id) with
//!    `FOR UPDATE SKIP LOCKED` and a `LIMIT`, as one top-level statement: the planner locks
//!    exactly the rows it returns, and concurrent claimers skip each other's rows instead of
//!    waiting. Candidates whose concurrency key is held by a claimed or running task are
//!    filtered out in the same statement.
//! 3. In Rust, walk the candidates (their id, kind and concurrency key only) applying the
//!    per-call, per-kind and store-wide limits and the one-task-per-concurrency-key rule
//!    within the batch. When some candidates were passed over and the page was full, select
//!    again excluding them (a few rounds at most).
//! 4. Claim the ones taken in one statement, `UPDATE ... FROM unnest(ids, tokens)`, which
//!    returns the claimed tasks, and commit. `claim_and_start` uses an update that also
//!    starts them, so a host's claim and start are one transaction.
//!
//! A claim of at most 128 tasks without per-kind limits (no `KindClaim::limit` or `max_active`;
//! a store-wide cap only lowers the call's limit) takes the direct path instead of steps 2 to 4:
//! one statement selects and locks the candidates in a CTE, passes over any that another
//! candidate with the same concurrency key precedes in claim order, and claims the rest
//! (`Sql::claim_direct`).
//! That is a round trip less, and no candidate list goes to the client and back. When it passed
//! some over and its page was full, the walk takes the rest of the budget in the same
//! transaction: the keys just claimed are active, so its selection skips their other tasks.
//!
//! The update is core's `transition::claim` written in SQL (as the `fast` module does for the
//! frequent worker writes), applied to tasks the selection found queued and due and locked:
//! the attempt raised, claimed now by the runner with a fresh lease token (made in Rust, one
//! per task), the lease running `lease` from now, start, finish, retry time and stale mark
//! cleared, a sign of life, one revision more. Doing it in SQL saves reading every column of
//! the candidates and sending them back as arrays: the candidates are read narrow, and the
//! claimed rows come back once, from `RETURNING`. The conformance suite and the model-based
//! test compare the records with core's transition.
//!
//! The partial unique index on `concurrency_key` over claimed or running tasks is the final
//! guard: two processes claiming different tasks with the same key at the same moment cannot
//! both commit. The loser's update fails with a unique violation (23505); its transaction is
//! rolled back and the claim starts over, now seeing the key as taken ("not claimable now").
//!
//! # Limits under concurrency
//!
//! `KindClaim::max_active` and `ClaimRequest::max_active` are exact across processes among
//! the claimers that pass them: such a claimer holds an exclusive advisory lock (per kind, or
//! store-wide) from before it counts until it commits, so counts and claims of limited kinds
//! are serialized, and only claims make a task active. A claimer that passes no limit for a
//! kind takes no lock and is not counted against: configure every host with the same limits
//! (the host does, from its handler registrations) for the limit to hold store-wide.

use std::collections::{HashMap, HashSet};

use tasks_core::lease::{MAX_CLAIM_BATCH, claim_order};
use tasks_core::transition;
use tasks_core::{
    ClaimRequest, ClaimedStart, KindSelector, LeaseToken, StoreError, TaskRecord, TaskStatus,
    Timestamp,
};

use crate::error::{corrupt, unique_violation};
use crate::pool::{BEGIN_CLAIM, Db, OpError, Tx};
use crate::row::{TASK_COLUMNS, task_from_row};
use crate::sql::Sql;
use crate::store::{Durability, PostgresTaskStore};

/// Most selection rounds of one claim.
const MAX_ROUNDS: usize = 8;

/// The largest claim that takes the direct path: its statement scans the candidates once for
/// each candidate with a concurrency key, so larger claims take the walk, which is linear.
const DIRECT_MAX: u32 = 128;

/// The limits of one claim, resolved against the active counts.
struct Budget {
    /// Tasks still wanted in this call (request limit, store-wide cap).
    remaining: u32,
    /// Per kind: tasks still allowed in this call (per-call limit and `maxActive` cap).
    per_kind: HashMap<String, u32>,
}

impl Budget {
    /// What is left for `kind` (`None`: no per-kind cap).
    fn kind_left(&self, kind: &str) -> Option<u32> {
        self.per_kind.get(kind).copied()
    }
}

impl PostgresTaskStore {
    /// Claims for a request that `TaskStore::claim` has already validated.
    pub(crate) fn claim_tasks(
        &self,
        request: &ClaimRequest,
        now: Timestamp,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        let sql = &self.inner.sql;
        self.run(Durability::Full, |conn| {
            let mut tx = Tx::begin_with(conn, BEGIN_CLAIM)?;
            let claimed = claim_in(&mut tx, sql, request, now, false)?;
            tx.commit()?;
            Ok(claimed)
        })
    }

    /// `claim_and_start` for a validated request: one transaction whose update claims and
    /// starts, so each task is written once, `running`. The claimed record each item also
    /// reports is the started one before `transition::start`: the start changes only the
    /// status, `startedAt`, the revision and times that equal the claim's; each item is checked
    /// to be exactly what `transition::start` makes of it before the transaction commits, so a
    /// mismatch writes nothing.
    ///
    /// A lease shorter than the store's millisecond clock has run out as it is given, and
    /// `start` refuses it: then the tasks are only claimed, and each item carries the refusal,
    /// as the other stores answer.
    pub(crate) fn claim_and_start_tasks(
        &self,
        request: &ClaimRequest,
        now: Timestamp,
    ) -> Result<Vec<ClaimedStart>, StoreError> {
        if now.saturating_add(request.lease) <= now {
            return self
                .claim_tasks(request, now)?
                .into_iter()
                .map(|claimed| {
                    let token =
                        claimed.lease_token.clone().ok_or_else(|| corrupt("lease token"))?;
                    let started = transition::start(&claimed, &token, now)
                        .map_err(|refusal| StoreError::refused(&claimed.id, refusal));
                    Ok(ClaimedStart { claimed, started })
                })
                .collect();
        }
        let sql = &self.inner.sql;
        self.run(Durability::Full, |conn| {
            let mut tx = Tx::begin_with(conn, BEGIN_CLAIM)?;
            let started = claim_in(&mut tx, sql, request, now, true)?;
            let items = started
                .into_iter()
                .map(|started| claimed_before(started, now))
                .collect::<Result<Vec<_>, StoreError>>()?;
            tx.commit()?;
            Ok(items)
        })
    }
}

/// The claimed record a task claimed and started at `now` was in between, checked against
/// `transition::start`.
pub(crate) fn claimed_before(
    started: TaskRecord,
    now: Timestamp,
) -> Result<ClaimedStart, StoreError> {
    let mut claimed = started.clone();
    claimed.status = TaskStatus::Claimed;
    claimed.started_at = None;
    claimed.revision = started.revision.saturating_sub(1);
    let token = claimed.lease_token.clone().ok_or_else(|| corrupt("lease token"))?;
    let expected = transition::start(&claimed, &token, now)
        .map_err(|refusal| StoreError::refused(&claimed.id, refusal))?;
    if expected != started {
        return Err(corrupt("a claimed and started task"));
    }
    Ok(ClaimedStart { claimed, started: Ok(started) })
}

pub(crate) fn claim_in(
    db: &mut impl Db,
    sql: &Sql,
    request: &ClaimRequest,
    now: Timestamp,
    start: bool,
) -> Result<Vec<TaskRecord>, OpError> {
    let Some(mut budget) = budget(db, sql, request)? else { return Ok(Vec::new()) };
    let accepted_kinds: Option<Vec<String>> = match &request.kinds {
        KindSelector::Any => None,
        KindSelector::Only(kinds) => Some(kinds.iter().map(|claim| claim.kind.clone()).collect()),
    };
    let fetch = budget.remaining.min(MAX_CLAIM_BATCH);
    if !budget.per_kind.is_empty() || fetch > DIRECT_MAX {
        return claim_walk(db, sql, request, budget, accepted_kinds, now, start);
    }
    let (mut claimed, locked) = claim_direct(db, sql, request, &accepted_kinds, fetch, now, start)?;
    let passed_over = locked > claimed.len();
    budget.remaining -= u32::try_from(claimed.len()).unwrap_or(budget.remaining);
    if passed_over && locked >= fetch as usize && budget.remaining > 0 {
        // Candidates sharing a key with one claimed were passed over, and more may be queued
        // behind them: the walk takes the rest. The keys just claimed are active now, so its
        // selection skips the passed-over candidates by itself.
        claimed.extend(claim_walk(db, sql, request, budget, accepted_kinds, now, start)?);
        // The walk may take a task the statement skipped while another claimer held it, and
        // that task may come first.
        claimed.sort_unstable_by(claim_order);
    }
    Ok(claimed)
}

/// The direct claim: one statement selects, locks and claims up to `fetch` candidates, taking
/// the first of each concurrency key. Returns the claimed tasks in claim order, and how many
/// candidates were locked.
fn claim_direct(
    db: &mut impl Db,
    sql: &Sql,
    request: &ClaimRequest,
    accepted_kinds: &Option<Vec<String>>,
    fetch: u32,
    now: Timestamp,
    start: bool,
) -> Result<(Vec<TaskRecord>, usize), OpError> {
    let tokens: Vec<LeaseToken> = (0..fetch).map(|_| LeaseToken::generate()).collect();
    let token_texts: Vec<&str> = tokens.iter().map(LeaseToken::as_str).collect();
    let now_ms = now.as_millis();
    let expires = now.saturating_add(request.lease).as_millis();
    let rows = db
        .query(
            &sql.claim_direct[usize::from(start)],
            &[&now_ms, accepted_kinds, &i64::from(fetch), &token_texts, &request.runner, &expires],
        )
        .map_err(claim_conflict)?;
    let mut locked = 0;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in &rows {
        let count: i64 = row.try_get(TASK_COLUMNS.len()).map_err(|_| corrupt("candidate count"))?;
        locked = usize::try_from(count).map_err(|_| corrupt("candidate count"))?;
        claimed.push(task_from_row(row)?);
    }
    claimed.sort_unstable_by(claim_order);
    Ok((claimed, locked))
}

/// Another process claimed a task with one of our concurrency keys and committed first: start
/// over.
fn claim_conflict(err: postgres::Error) -> OpError {
    match unique_violation(&err) {
        Some(_) => OpError::Retry,
        None => err.into(),
    }
}

/// The walk: selects candidates, applies the per-kind limits and the one-task-per-key rule in
/// Rust (selecting again past the ones passed over), then claims the ones taken.
fn claim_walk(
    db: &mut impl Db,
    sql: &Sql,
    request: &ClaimRequest,
    mut budget: Budget,
    accepted_kinds: Option<Vec<String>>,
    now: Timestamp,
    start: bool,
) -> Result<Vec<TaskRecord>, OpError> {
    let mut full_kinds: Vec<String> = budget
        .per_kind
        .iter()
        .filter(|(_, left)| **left == 0)
        .map(|(kind, _)| kind.clone())
        .collect();
    let mut seen: Vec<String> = Vec::new();
    let mut busy_keys: HashSet<String> = HashSet::new();
    let mut taken: Vec<String> = Vec::new();
    let now_ms = now.as_millis();
    for _ in 0..MAX_ROUNDS {
        if budget.remaining == 0 {
            break;
        }
        let fetch = i64::from(budget.remaining.min(MAX_CLAIM_BATCH));
        let keys: Vec<&String> = busy_keys.iter().collect();
        let rows = db.query(
            &sql.claim_candidates,
            &[&now_ms, &accepted_kinds, &full_kinds, &seen, &keys, &fetch],
        )?;
        let page_full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= fetch;
        let mut passed_over = false;
        for row in &rows {
            let candidate = Candidate::from_row(row)?;
            seen.push(candidate.id.clone());
            if budget.remaining == 0 {
                passed_over = true;
                continue;
            }
            let kind_left = budget.kind_left(&candidate.kind);
            let key_busy = candidate.key.as_ref().is_some_and(|key| busy_keys.contains(key));
            if kind_left == Some(0) || key_busy {
                passed_over = true;
                continue;
            }
            if let Some(key) = candidate.key {
                busy_keys.insert(key);
            }
            if let Some(left) = budget.per_kind.get_mut(&candidate.kind) {
                *left -= 1;
                if *left == 0 {
                    full_kinds.push(candidate.kind.clone());
                }
            }
            budget.remaining -= 1;
            taken.push(candidate.id);
        }
        if !page_full || !passed_over {
            break;
        }
    }
    if taken.is_empty() {
        return Ok(Vec::new());
    }
    let tokens: Vec<LeaseToken> = taken.iter().map(|_| LeaseToken::generate()).collect();
    let token_texts: Vec<&str> = tokens.iter().map(LeaseToken::as_str).collect();
    let expires = now.saturating_add(request.lease).as_millis();
    let rows = db
        .query(
            if start { &sql.claim_start_update } else { &sql.claim_update },
            &[&taken, &token_texts, &now_ms, &request.runner, &expires],
        )
        .map_err(claim_conflict)?;
    if rows.len() != taken.len() {
        // The candidates are locked and due, so each is updated; start over rather than
        // return a part of the batch.
        return Err(OpError::Retry);
    }
    let mut claimed = Vec::with_capacity(rows.len());
    for row in &rows {
        let place: i64 = row.try_get(TASK_COLUMNS.len()).map_err(|_| corrupt("claim order"))?;
        claimed.push((place, task_from_row(row)?));
    }
    claimed.sort_unstable_by_key(|(place, _)| *place);
    Ok(claimed.into_iter().map(|(_, record)| record).collect())
}

/// What the walk needs of a candidate.
struct Candidate {
    id: String,
    kind: String,
    key: Option<String>,
}

impl Candidate {
    fn from_row(row: &postgres::Row) -> Result<Self, StoreError> {
        let field = |what: &'static str| move |_| corrupt(what);
        Ok(Candidate {
            id: row.try_get(0).map_err(field("id"))?,
            kind: row.try_get(1).map_err(field("kind"))?,
            key: row.try_get(2).map_err(field("concurrency_key"))?,
        })
    }
}

/// Takes the limit locks, counts what they cap, and resolves the budget of this call;
/// `None` when nothing may be claimed.
fn budget(db: &mut impl Db, sql: &Sql, request: &ClaimRequest) -> Result<Option<Budget>, OpError> {
    let mut remaining = request.limit;
    if let Some(max) = request.max_active {
        db.query(&sql.lock_global_limit, &[&sql.scope("*")])?;
        let rows = db.query(&sql.count_active, &[])?;
        let active: i64 = rows.first().map_or(0, |row| row.get(0));
        let left = i64::from(max).saturating_sub(active).max(0);
        remaining = remaining.min(u32::try_from(left).unwrap_or(u32::MAX));
    }
    let mut per_kind = HashMap::new();
    if let KindSelector::Only(kinds) = &request.kinds {
        let limited: Vec<String> = kinds
            .iter()
            .filter(|claim| claim.max_active.is_some())
            .map(|claim| claim.kind.clone())
            .collect();
        let mut active: HashMap<String, i64> = HashMap::new();
        if !limited.is_empty() {
            let scopes: Vec<String> =
                limited.iter().map(|kind| sql.scope(&format!("kind/{kind}"))).collect();
            db.query(&sql.lock_kind_limits, &[&scopes])?;
            for row in db.query(&sql.count_active_kinds, &[&limited])? {
                active.insert(row.get(0), row.get(1));
            }
        }
        let mut resolved: HashSet<&str> = HashSet::new();
        for claim in kinds {
            // The first entry of a kind is the one that applies (as `ClaimRequest::kind_limits`).
            if !resolved.insert(claim.kind.as_str()) {
                continue;
            }
            let by_active = claim.max_active.map(|max| {
                let used = active.get(&claim.kind).copied().unwrap_or(0);
                u32::try_from(i64::from(max).saturating_sub(used).max(0)).unwrap_or(u32::MAX)
            });
            let left = match (claim.limit, by_active) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let Some(left) = left {
                per_kind.insert(claim.kind.clone(), left);
            }
        }
    }
    if remaining == 0 {
        return Ok(None);
    }
    Ok(Some(Budget { remaining, per_kind }))
}
