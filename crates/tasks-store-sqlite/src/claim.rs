//! Claiming in one write transaction: the claim rules of `tasks_core::lease` over the queued
//! tasks, read in claim order from the partial claim index.
//!
//! Candidates are read a page at a time in claim order (priority DESC, scheduledAt, id). For
//! each, the cheap columns (kind, concurrency key) decide whether it is taken, and only a
//! taken row is decoded and passed to `transition::claim`. The claimed records are written
//! back after the scan, so no row changes under a running SELECT. `BEGIN IMMEDIATE` makes the
//! whole claim one writer's work: no other thread or process can claim between the reads and
//! the writes.
//!
//! `claim_and_start` applies `transition::start` to each claimed record in memory and writes
//! only the started one: the claim and the start are one row write and one change-feed entry,
//! not two of each in two transactions.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use rusqlite::OptionalExtension;
use rusqlite::types::Value;
use tasks_core::lease::MAX_CLAIM_BATCH;
use tasks_core::transition;
use tasks_core::{
    ClaimRequest, ClaimedStart, KindSelector, LeaseToken, StoreError, TaskRecord, Timestamp,
};

use crate::error::sql;
use crate::row::{self, COL_CONCURRENCY_KEY, COL_ID, COL_KIND, TASK_COLUMNS};
use crate::sql_text::TextMemo;
use crate::tx::WriteTx;
use crate::{insert, update};

/// Column positions of the claim order in [`TASK_COLUMNS`].
const COL_PRIORITY: usize = 16;
const COL_SCHEDULED_AT: usize = 17;

/// Where the previous page of candidates ended, in claim order.
#[derive(Default)]
struct Position {
    priority: i64,
    scheduled_at: i64,
    id: String,
}

impl Position {
    /// Moves to the candidate `row`, reusing the buffer of the id.
    fn set(&mut self, row: &rusqlite::Row<'_>) -> Result<(), StoreError> {
        self.priority = row.get(COL_PRIORITY).map_err(sql)?;
        self.scheduled_at = row.get(COL_SCHEDULED_AT).map_err(sql)?;
        let id = row.get_ref(COL_ID).and_then(|value| Ok(value.as_str()?)).map_err(sql)?;
        self.id.clear();
        self.id.push_str(id);
        Ok(())
    }
}

/// The counts and keys the claim rules need, loaded lazily and kept up to date with the tasks
/// claimed so far in this call.
struct Budget<'a> {
    request: &'a ClaimRequest,
    active_total: u64,
    active_by_kind: HashMap<String, u64>,
    taken_by_kind: HashMap<String, u32>,
    /// Concurrency keys known busy (`true`) or free (`false`).
    keys: HashMap<String, bool>,
}

/// Claims up to `request.limit` due tasks, for a request that `TaskStore::claim` has already
/// validated.
pub(crate) fn claim(
    tx: &WriteTx<'_>,
    request: &ClaimRequest,
    now: Timestamp,
) -> Result<Vec<TaskRecord>, StoreError> {
    let (olds, claimed): (Vec<TaskRecord>, Vec<TaskRecord>) =
        take(tx, request, now)?.into_iter().unzip();
    write_back(tx, olds.into_iter().zip(&claimed).collect())?;
    Ok(claimed)
}

/// Claims as [`claim`] does and starts each claimed task, writing only the started record.
pub(crate) fn claim_and_start(
    tx: &WriteTx<'_>,
    request: &ClaimRequest,
    now: Timestamp,
) -> Result<Vec<ClaimedStart>, StoreError> {
    let taken = take(tx, request, now)?;
    let mut olds = Vec::with_capacity(taken.len());
    let mut items = Vec::with_capacity(taken.len());
    for (old, claimed) in taken {
        let started = match &claimed.lease_token {
            Some(token) => transition::start(&claimed, token, now)
                .map_err(|refusal| StoreError::refused(&claimed.id, refusal)),
            None => Err(StoreError::LeaseLost { id: claimed.id.clone() }),
        };
        olds.push(old);
        items.push(ClaimedStart { claimed, started });
    }
    // What the store holds after: the started task, or the claimed one where the start was
    // refused (a start right after the claim, with its fresh lease, never is).
    let held = items.iter().map(|item| item.started.as_ref().unwrap_or(&item.claimed));
    write_back(tx, olds.into_iter().zip(held).collect())?;
    Ok(items)
}

/// Logs the change of each taken task and writes it from how it was to how it is now (the
/// records it was go on to the writer's memory).
fn write_back(tx: &WriteTx<'_>, pairs: Vec<(TaskRecord, &TaskRecord)>) -> Result<(), StoreError> {
    insert::log_updates(tx, pairs.iter().map(|(_, new)| *new))?;
    update::update_records(tx, pairs)
}

/// Picks and claims (in memory) up to `request.limit` due tasks: each as it was, and as the
/// claim leaves it. Nothing is written.
fn take(
    tx: &WriteTx<'_>,
    request: &ClaimRequest,
    now: Timestamp,
) -> Result<Vec<(TaskRecord, TaskRecord)>, StoreError> {
    let active_total = match request.max_active {
        Some(_) => count_active(tx, None)?,
        None => 0,
    };
    let mut budget = Budget {
        request,
        active_total,
        active_by_kind: HashMap::new(),
        taken_by_kind: HashMap::new(),
        keys: HashMap::new(),
    };
    let mut kind_params: Vec<Value> = Vec::new();
    if let KindSelector::Only(kinds) = &request.kinds {
        let distinct: HashSet<&str> = kinds.iter().map(|claim| claim.kind.as_str()).collect();
        if distinct.is_empty() {
            return Ok(Vec::new());
        }
        let mut distinct: Vec<&str> = distinct.into_iter().collect();
        // A stable order keeps the statement text, and so the prepared-statement cache, stable.
        distinct.sort_unstable();
        kind_params = distinct.into_iter().map(|kind| Value::from(kind.to_owned())).collect();
    }
    // Skipped candidates cost a row read each; twice the limit covers the usual few skips in
    // one page, and later pages pick up after the last row seen.
    let page = i64::from(request.limit.saturating_mul(2).clamp(16, 2_000));
    // Each claimed record with the record it was, so the write sets only what changed.
    let mut claimed: Vec<(TaskRecord, TaskRecord)> =
        Vec::with_capacity(request.limit.min(MAX_CLAIM_BATCH) as usize);
    // The last candidate seen; `None` until the first page has been read.
    let mut after: Option<Position> = None;
    'pages: loop {
        // Placeholders are anonymous: parameters go in the order they appear in the text.
        let mut params: Vec<Value> = vec![now.as_millis().into()];
        params.extend(kind_params.iter().cloned());
        let keyset = match &after {
            None => false,
            Some(position) => {
                params.extend([
                    position.priority.into(),
                    position.priority.into(),
                    position.scheduled_at.into(),
                    position.scheduled_at.into(),
                    position.id.clone().into(),
                ]);
                true
            }
        };
        let sql_text = candidates_text(kind_params.len(), keyset, page);
        let mut statement = tx.prepare_cached(&sql_text).map_err(sql)?;
        let mut rows = statement.query(rusqlite::params_from_iter(params.iter())).map_err(sql)?;
        let mut seen = 0i64;
        while let Some(row) = rows.next().map_err(sql)? {
            seen += 1;
            if claimed.len() >= request.limit as usize || budget.global_cap_reached() {
                break 'pages;
            }
            // Read in place: most candidates are taken and decoded whole right after, so the
            // columns the rules look at are not copied out first.
            let kind = row.get_ref(COL_KIND).and_then(|value| Ok(value.as_str()?)).map_err(sql)?;
            let key = row
                .get_ref(COL_CONCURRENCY_KEY)
                .and_then(|value| Ok(value.as_str_or_null()?))
                .map_err(sql)?;
            let admitted = budget.admits(tx, kind, key)?;
            after.get_or_insert_with(Position::default).set(row)?;
            if !admitted {
                continue;
            }
            let record = row::read_record(row)?;
            let next = transition::claim(
                &record,
                &request.runner,
                LeaseToken::generate(),
                request.lease,
                now,
            )
            .map_err(|refusal| StoreError::refused(&record.id, refusal))?;
            budget.take(&next);
            claimed.push((record, next));
        }
        if seen < page || claimed.len() >= request.limit as usize {
            break;
        }
    }
    Ok(claimed)
}

thread_local! {
    /// The candidate queries by (kinds filtered on, after a keyset position, page size).
    static CANDIDATES: TextMemo<(usize, bool, i64)> = TextMemo::new();
}

/// The query for one page of claim candidates: queued tasks due by the first parameter, of
/// `kinds` kinds (0 for any kind; their names follow), after a keyset position when `keyset`
/// (its five parameters come last), in claim order.
fn candidates_text(kinds: usize, keyset: bool, page: i64) -> Rc<str> {
    CANDIDATES.with(|memo| {
        memo.text(&(kinds, keyset, page), || {
            let kind_clause = match kinds {
                0 => String::new(),
                n => format!(" AND kind IN ({})", vec!["?"; n].join(", ")),
            };
            let keyset_clause = if keyset {
                " AND (priority < ? OR (priority = ? AND (scheduled_at > ? \
                  OR (scheduled_at = ? AND id > ?))))"
            } else {
                ""
            };
            // The page size is a literal: see the module docs of `row`.
            format!(
                "SELECT {TASK_COLUMNS} FROM tasks WHERE status = 'queued' AND scheduled_at <= ?\
                 {kind_clause}{keyset_clause} ORDER BY priority DESC, scheduled_at, id \
                 LIMIT {page}"
            )
        })
    })
}

impl Budget<'_> {
    fn global_cap_reached(&self) -> bool {
        self.request.max_active.is_some_and(|max| self.active_total >= u64::from(max))
    }

    /// Whether a candidate of `kind` holding `key` may be taken now.
    fn admits(
        &mut self,
        tx: &WriteTx<'_>,
        kind: &str,
        key: Option<&str>,
    ) -> Result<bool, StoreError> {
        let Some(limits) = self.request.kind_limits(kind) else { return Ok(false) };
        let taken = self.taken_by_kind.get(kind).copied().unwrap_or(0);
        if limits.limit.is_some_and(|limit| taken >= limit) {
            return Ok(false);
        }
        if let Some(max) = limits.max_active {
            let active = match self.active_by_kind.get(kind) {
                Some(count) => *count,
                None => {
                    let count = count_active(tx, Some(kind))?;
                    self.active_by_kind.insert(kind.to_owned(), count);
                    count
                }
            };
            if active >= u64::from(max) {
                return Ok(false);
            }
        }
        if let Some(key) = key {
            let busy = match self.keys.get(key) {
                Some(busy) => *busy,
                None => {
                    let busy = key_busy(tx, key)?;
                    self.keys.insert(key.to_owned(), busy);
                    busy
                }
            };
            if busy {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Counts a claimed task against every limit.
    fn take(&mut self, record: &TaskRecord) {
        self.active_total += 1;
        if let Some(count) = self.active_by_kind.get_mut(&record.kind) {
            *count += 1;
        }
        match self.taken_by_kind.get_mut(&record.kind) {
            Some(taken) => *taken += 1,
            None => {
                self.taken_by_kind.insert(record.kind.clone(), 1);
            }
        }
        if let Some(key) = &record.concurrency_key {
            self.keys.insert(key.clone(), true);
        }
    }
}

/// Claimed or running tasks in the store, of one kind or of all.
fn count_active(tx: &WriteTx<'_>, kind: Option<&str>) -> Result<u64, StoreError> {
    let count: i64 = match kind {
        None => tx
            .prepare_cached("SELECT count(*) FROM tasks WHERE status IN ('claimed', 'running')")
            .map_err(sql)?
            .query_row([], |row| row.get(0))
            .map_err(sql)?,
        Some(kind) => tx
            .prepare_cached(
                "SELECT count(*) FROM tasks WHERE status IN ('claimed', 'running') AND kind = ?1",
            )
            .map_err(sql)?
            .query_row([kind], |row| row.get(0))
            .map_err(sql)?,
    };
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Whether a task holding `key` is claimed or running.
fn key_busy(tx: &WriteTx<'_>, key: &str) -> Result<bool, StoreError> {
    tx.prepare_cached(
        "SELECT 1 FROM tasks WHERE concurrency_key = ?1 AND status IN ('claimed', 'running')",
    )
    .map_err(sql)?
    .query_row([key], |_| Ok(()))
    .optional()
    .map_err(sql)
    .map(|found| found.is_some())
}
