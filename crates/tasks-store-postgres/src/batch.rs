//! Batched worker writes, `start_batch` and `finish_batch`: one transaction and a fixed number
//! of round trips whatever the batch's size, with each item fenced on its own.
//!
//! Items naming distinct tasks are independent of each other, and take set-based statements
//! over `unnest` arrays, each one core's transition written in SQL as the single writes of
//! the `fast` module are:
//! - a start batch is one statement: it locks the named tasks (in id order, so two batches
//!   over the same tasks queue up instead of deadlocking), starts those whose lease is live
//!   and that are claimed, and returns, for each task it refused, what `start` would answer:
//!   `LeaseLost`, or `WrongStatus` for a task already running. One round trip, one commit.
//! - a finish batch of completions is one statement that completes every task whose lease is
//!   live and returns it; an item whose task did not match has lost its lease, the only
//!   refusal `complete` has. One round trip, one commit. Failures and cancel
//!   acknowledgements among the completions take the general path below, in the same
//!   transaction as the completions' statement.
//!
//! The general path applies core's transitions in input order, for batches where the same
//! task comes twice (the second item's answer depends on the first's) and for the finishes
//! with more than one outcome (`fail`, `acknowledge_cancel`). One statement reads and locks
//! every task the items name, in id order; each item is applied in Rust with the transition
//! its single call uses ([`transition::start`], [`Finish::apply`]) to the record as the items
//! before it left it, so a lease given twice is refused the second time exactly as a second
//! single call would be; one statement writes every changed task. With the begin and the
//! commit, four round trips.

use std::collections::{HashMap, HashSet};

use tasks_core::transition;
use tasks_core::{
    Finish, Lease, StoreError, TaskId, TaskRecord, TaskStatus, Timestamp, TransitionRefusal,
};

use crate::error::corrupt;
use crate::pool::{Db, OpError, Tx};
use crate::row::{TASK_COLUMNS, UpdateArrays, task_from_row};
use crate::sql::{Sql, write};
use crate::store::{Durability, PostgresTaskStore};
use crate::worker::lease_lost;

/// The answer for one item of a batch.
pub(crate) type ItemResult = Result<TaskRecord, StoreError>;

/// Whether every lease names a different task.
fn distinct<'a>(leases: impl IntoIterator<Item = &'a Lease>) -> bool {
    let mut seen = HashSet::new();
    leases.into_iter().all(|lease| seen.insert(&lease.task_id))
}

impl PostgresTaskStore {
    /// `start_batch`: each lease started as `start` would, in input order.
    pub(crate) fn start_leases(
        &self,
        leases: &[Lease],
        now: Timestamp,
    ) -> Result<Vec<ItemResult>, StoreError> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        if distinct(leases) {
            return self.start_distinct(leases, now);
        }
        let ids: Vec<&TaskId> = leases.iter().map(|lease| &lease.task_id).collect();
        let sql = &self.inner.sql;
        self.run(Durability::Full, |conn| {
            let mut tx = Tx::begin(conn)?;
            let results = apply_in_order(&mut tx, sql, &ids, |index, record| {
                transition::start(record, &leases[index].token, now)
            })?;
            tx.commit()?;
            Ok(results)
        })
    }

    /// Starts distinct tasks in one statement (see the module docs).
    fn start_distinct(
        &self,
        leases: &[Lease],
        now: Timestamp,
    ) -> Result<Vec<ItemResult>, StoreError> {
        let ids: Vec<&str> = leases.iter().map(|lease| lease.task_id.as_str()).collect();
        let tokens: Vec<&str> = leases.iter().map(|lease| lease.token.as_str()).collect();
        let sql = &self.inner.fast.start_batch;
        let mut answers = self.run(Durability::Full, |conn| {
            // One autocommit statement: a failure while it runs has an unknown outcome.
            let rows =
                conn.query(sql, &[&ids, &tokens, &now.as_millis()]).map_err(OpError::unknown)?;
            let mut answers = HashMap::with_capacity(rows.len());
            for row in &rows {
                let (id, answer) = start_answer(row)?;
                answers.insert(id, answer);
            }
            Ok(answers)
        })?;
        Ok(leases
            .iter()
            .map(|lease| {
                // A task the statement did not find does not exist: its lease is lost too.
                answers.remove(&lease.task_id).unwrap_or_else(|| Err(lease_lost(&lease.task_id)))
            })
            .collect())
    }

    /// `finish_batch`: each finish validated and applied as its single call would, in input
    /// order; an invalid item is refused on its own and touches nothing.
    pub(crate) fn finish_leases(
        &self,
        finishes: &[Finish],
        now: Timestamp,
    ) -> Result<Vec<ItemResult>, StoreError> {
        let checked = Checked::new(finishes);
        let applied = self.finish_valid(finishes, &checked.valid, now)?;
        Ok(self.answers(checked, applied, now))
    }

    /// The answers in input order, from the refusals of `checked` and the results `applied` of
    /// its valid items; wakes the listeners when a task went back to the queue due now.
    pub(crate) fn answers(
        &self,
        checked: Checked,
        applied: Vec<ItemResult>,
        now: Timestamp,
    ) -> Vec<ItemResult> {
        let Checked { mut results, valid } = checked;
        for (index, result) in valid.into_iter().zip(applied) {
            results[index] = Some(result);
        }
        let results: Vec<ItemResult> = results
            .into_iter()
            .map(|result| result.unwrap_or_else(|| Err(missing_answer())))
            .collect();
        let requeued = results
            .iter()
            .flatten()
            .any(|record| record.status == TaskStatus::Queued && record.scheduled_at <= now);
        if requeued {
            self.wake();
        }
        results
    }

    /// Applies the valid finishes (`finishes[i]` for each `i` of `valid`); one result each, in
    /// the order of `valid`. Completions of distinct tasks alone are one autocommit statement;
    /// anything else one transaction.
    fn finish_valid(
        &self,
        finishes: &[Finish],
        valid: &[usize],
        now: Timestamp,
    ) -> Result<Vec<ItemResult>, StoreError> {
        if valid.is_empty() {
            return Ok(Vec::new());
        }
        let sql = &self.inner.sql;
        let complete_sql = &self.inner.fast.complete_batch;
        let one_statement =
            valid.iter().all(|&index| matches!(finishes[index], Finish::Complete { .. }))
                && distinct(valid.iter().map(|&index| finishes[index].lease()));
        self.run(Durability::Full, |conn| {
            if one_statement {
                // One autocommit statement: a failure while it runs has an unknown outcome.
                return finish_valid_in(conn, sql, complete_sql, finishes, valid, now)
                    .map_err(outcome_unknown);
            }
            let mut tx = Tx::begin(conn)?;
            let results = finish_valid_in(&mut tx, sql, complete_sql, finishes, valid, now)?;
            tx.commit()?;
            Ok(results)
        })
    }
}

/// A batch of finishes, validated: the refusal of each invalid item, and the valid ones.
pub(crate) struct Checked {
    /// Per item, its refusal, or `None` while it is to be applied.
    results: Vec<Option<ItemResult>>,
    /// The indexes of the valid items.
    pub(crate) valid: Vec<usize>,
}

impl Checked {
    pub(crate) fn new(finishes: &[Finish]) -> Self {
        let results: Vec<Option<ItemResult>> = finishes
            .iter()
            .map(|finish| finish.validate().err().map(|err| Err(err.into())))
            .collect();
        let valid = (0..finishes.len()).filter(|&i| results[i].is_none()).collect();
        Checked { results, valid }
    }
}

/// Applies the valid finishes inside the caller's transaction (see the module docs): items
/// naming distinct tasks as the completions' statement plus the general path for the others,
/// else all on the general path in input order. One result per item of `valid`, in its order.
pub(crate) fn finish_valid_in(
    db: &mut impl Db,
    sql: &Sql,
    complete_sql: &str,
    finishes: &[Finish],
    valid: &[usize],
    now: Timestamp,
) -> Result<Vec<ItemResult>, OpError> {
    if valid.is_empty() {
        return Ok(Vec::new());
    }
    if !distinct(valid.iter().map(|&index| finishes[index].lease())) {
        let ids: Vec<&TaskId> =
            valid.iter().map(|&index| &finishes[index].lease().task_id).collect();
        return apply_in_order(db, sql, &ids, |item, record| {
            finishes[valid[item]].apply(record, now)
        });
    }
    let (completions, others): (Vec<usize>, Vec<usize>) =
        valid.iter().partition(|&&index| matches!(finishes[index], Finish::Complete { .. }));
    let completions: Vec<(&Lease, &serde_json::Value)> = completions
        .iter()
        .filter_map(|&index| match &finishes[index] {
            Finish::Complete { lease, output } => Some((lease, output)),
            _ => None,
        })
        .collect();
    let other_ids: Vec<&TaskId> =
        others.iter().map(|&index| &finishes[index].lease().task_id).collect();
    let mut completed = complete_all(db, complete_sql, &completions, now)?;
    let mut ended = apply_in_order(db, sql, &other_ids, |item, record| {
        finishes[others[item]].apply(record, now)
    })?
    .into_iter();
    Ok(valid
        .iter()
        .map(|&index| match &finishes[index] {
            Finish::Complete { lease, .. } => {
                completed.remove(&lease.task_id).unwrap_or_else(|| Err(lease_lost(&lease.task_id)))
            }
            _ => ended.next().unwrap_or_else(|| Err(missing_answer())),
        })
        .collect())
}

/// Reads one row of the start statement: the task's id and the answer for it.
fn start_answer(row: &postgres::Row) -> Result<(TaskId, ItemResult), StoreError> {
    let at = TASK_COLUMNS.len();
    let field = |what: &'static str| move |_| corrupt(what);
    let id: String = row.try_get(at).map_err(field("id"))?;
    let id = TaskId::new(id).map_err(|_| corrupt("id"))?;
    let started: Option<String> = row.try_get(0).map_err(field("id"))?;
    if started.is_some() {
        return Ok((id, Ok(task_from_row(row)?)));
    }
    let leased: bool = row.try_get(at + 2).map_err(field("lease"))?;
    if !leased {
        return Ok((id.clone(), Err(lease_lost(&id))));
    }
    let status: String = row.try_get(at + 1).map_err(field("status"))?;
    let status = TaskStatus::parse(&status).ok_or_else(|| corrupt("status"))?;
    let refusal = TransitionRefusal::WrongStatus { operation: "start", status };
    Ok((id.clone(), Err(StoreError::refused(&id, refusal))))
}

/// Runs the completions statement; the completed tasks by id, as answers.
fn complete_all(
    db: &mut impl Db,
    sql: &str,
    completions: &[(&Lease, &serde_json::Value)],
    now: Timestamp,
) -> Result<HashMap<TaskId, ItemResult>, OpError> {
    if completions.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<&str> = completions.iter().map(|(lease, _)| lease.task_id.as_str()).collect();
    let tokens: Vec<&str> = completions.iter().map(|(lease, _)| lease.token.as_str()).collect();
    let outputs: Vec<&serde_json::Value> = completions.iter().map(|(_, output)| *output).collect();
    let rows = db.query(sql, &[&ids, &tokens, &now.as_millis(), &outputs])?;
    let mut completed = HashMap::with_capacity(rows.len());
    for row in &rows {
        let record = task_from_row(row)?;
        completed.insert(record.id.clone(), Ok(record));
    }
    Ok(completed)
}

/// The general path (see the module docs), inside the caller's transaction: `apply(index,
/// record)` is item `index`'s transition of its task `ids[index]`, as the items before it
/// left the task.
fn apply_in_order(
    db: &mut impl Db,
    sql: &Sql,
    ids: &[&TaskId],
    apply: impl Fn(usize, &TaskRecord) -> Result<TaskRecord, TransitionRefusal>,
) -> Result<Vec<ItemResult>, OpError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut unique: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
    unique.sort_unstable();
    unique.dedup();
    let rows = db.query(&sql.lock_tasks, &[&unique])?;
    let mut read: HashMap<TaskId, TaskRecord> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let record = task_from_row(row)?;
        read.insert(record.id.clone(), record);
    }
    let mut current: HashMap<&TaskId, TaskRecord> = HashMap::new();
    let mut results = Vec::with_capacity(ids.len());
    for (index, id) in ids.iter().enumerate() {
        let Some(record) = current.get(id).or_else(|| read.get(*id)) else {
            // An unknown task has lost its lease too.
            results.push(Err(lease_lost(id)));
            continue;
        };
        match apply(index, record) {
            Ok(next) => {
                results.push(Ok(next.clone()));
                current.insert(id, next);
            }
            Err(refusal) => results.push(Err(StoreError::refused(id, refusal))),
        }
    }
    let mut updates = UpdateArrays::default();
    for (id, next) in &current {
        if let Some(old) = read.get(*id) {
            updates.push(old, next);
        }
    }
    let written = write(db, sql, &updates, &[])?;
    if written != current.len() as u64 {
        // The rows are locked, so this cannot happen; start over rather than commit a part of
        // the batch.
        return Err(OpError::Retry);
    }
    Ok(results)
}

/// Marks a driver error as one whose outcome is unknown (see [`OpError::unknown`]).
fn outcome_unknown(err: OpError) -> OpError {
    match err {
        OpError::Driver { err, .. } => OpError::unknown(err),
        other => other,
    }
}

/// An item the batch gave no answer for (a bug, not a store state).
fn missing_answer() -> StoreError {
    StoreError::Backend { message: "a batch item got no answer".to_owned(), source: None }
}
