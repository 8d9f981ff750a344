//! Enqueueing: dedupe, duplicate ids, supersede and insert, in the order core prescribes, on
//! the store's own sessions or inside a caller's transaction (transactional enqueue).
//!
//! - Tasks without dedupe or supersede keys are inserted in bulk, one statement per run of
//!   them (`INSERT ... SELECT * FROM unnest(...)`).
//! - Dedupe is held by the partial unique index: the insert is
//!   `ON CONFLICT (kind, dedupe_key) WHERE <open, no cancel> DO NOTHING`; when it inserts
//!   nothing, the blocking task is read and returned as reused. Two processes racing on one key
//!   therefore get the same task, never two.
//! - Supersede serializes on a transaction-scoped advisory lock of the (kind, supersedeKey)
//!   group: exclusive for a superseding enqueue, shared for a plain enqueue carrying the key.
//!   So of many concurrent superseding enqueues each cancels every task enqueued before it,
//!   and exactly one (the last) stays open.

use tasks_core::enqueue::{EnqueueDisposition, EnqueueOutcome};
use tasks_core::transition::{self, superseded_reason};
use tasks_core::{InvalidInput, NewTask, StoreError, TaskId, TaskRecord, Timestamp};

use crate::error::unique_violation;
use crate::pool::{Db, OpError, Tx};
use crate::row::{InsertArrays, PlainInsert, task_from_row};
use crate::sql::{Sql, write_pairs};
use crate::store::{Durability, PostgresTaskStore};

/// A validated task, ready to insert.
pub(crate) struct Prepared {
    record: TaskRecord,
    supersede: bool,
}

impl Prepared {
    /// A task without dedupe or supersede key needs nothing from the database but an insert.
    fn is_plain(&self) -> bool {
        self.record.dedupe_key.is_none() && self.record.supersede_key.is_none()
    }

    /// Whether the task needs a transaction even alone (its advisory lock lasts for one).
    fn needs_transaction(&self) -> bool {
        self.record.supersede_key.is_some()
    }
}

/// Validates every task before anything is sent (a refusal stores nothing).
pub(crate) fn prepare(tasks: Vec<NewTask>, now: Timestamp) -> Result<Vec<Prepared>, InvalidInput> {
    tasks
        .into_iter()
        .map(|task| {
            let supersede = task.options.supersede_existing;
            Ok(Prepared { record: task.into_record(now)?, supersede })
        })
        .collect()
}

/// What the database said about one task, before the outcome is built: the outcome takes
/// the record by value once the transaction has committed (no copy of the documents).
pub(crate) enum Planned {
    /// Inserted, superseding these tasks.
    Created(Vec<TaskId>),
    /// An open task with the same dedupe key was found instead.
    Reused(Box<TaskRecord>),
}

/// Builds the outcomes from the validated tasks and what was planned for each.
pub(crate) fn outcomes(items: Vec<Prepared>, planned: Vec<Planned>) -> Vec<EnqueueOutcome> {
    items
        .into_iter()
        .zip(planned)
        .map(|(item, planned)| match planned {
            Planned::Created(superseded) => EnqueueOutcome::created(item.record, superseded),
            Planned::Reused(existing) => EnqueueOutcome::reused(*existing),
        })
        .collect()
}

/// Whether any outcome made a task that can be claimed right away (worth a wake-up).
pub(crate) fn wakes(outcomes: &[EnqueueOutcome], now: Timestamp) -> bool {
    outcomes.iter().any(|outcome| {
        outcome.disposition != EnqueueDisposition::Reused && outcome.task.scheduled_at <= now
    })
}

/// Enqueues `items` in order on `db`. With `autocommit`, each statement commits by itself
/// (only allowed for one task that needs no transaction, or for plain tasks only, which are
/// one insert), so a failed insert has an unknown outcome.
pub(crate) fn enqueue_all(
    db: &mut impl Db,
    sql: &Sql,
    items: &[Prepared],
    now: Timestamp,
    autocommit: bool,
) -> Result<Vec<Planned>, OpError> {
    let mut outcomes = Vec::with_capacity(items.len());
    let mut plain: Vec<&TaskRecord> = Vec::new();
    for item in items {
        if item.is_plain() {
            plain.push(&item.record);
            outcomes.push(Planned::Created(Vec::new()));
            continue;
        }
        flush(db, sql, &mut plain, autocommit)?;
        outcomes.push(enqueue_keyed(db, sql, item, now, autocommit)?);
    }
    flush(db, sql, &mut plain, autocommit)?;
    Ok(outcomes)
}

/// Inserts the pending plain tasks in one statement (the lean [`PlainInsert`] form).
fn flush(
    db: &mut impl Db,
    sql: &Sql,
    plain: &mut Vec<&TaskRecord>,
    autocommit: bool,
) -> Result<(), OpError> {
    if plain.is_empty() {
        return Ok(());
    }
    let lean = PlainInsert::new(plain);
    db.execute(&sql.insert_plain[usize::from(lean.has_channels())], &lean.params()).map_err(
        |err| {
            let ids: Vec<&TaskId> = plain.iter().map(|record| &record.id).collect();
            insert_error(sql, err, &ids, autocommit)
        },
    )?;
    plain.clear();
    Ok(())
}

/// Maps an insert failure: a primary-key violation is a duplicate caller id.
fn insert_error(sql: &Sql, err: postgres::Error, ids: &[&TaskId], autocommit: bool) -> OpError {
    if unique_violation(&err) == Some(sql.pkey.as_str()) {
        let id = err
            .as_db_error()
            .and_then(|db| db.detail())
            .and_then(duplicate_id_in_detail)
            .or_else(|| ids.first().map(|id| (*id).clone()));
        if let Some(id) = id {
            return OpError::Store(InvalidInput::DuplicateId { id }.into());
        }
    }
    if autocommit { OpError::unknown(err) } else { err.into() }
}

/// The id in a unique-violation detail (`Key (id)=(abc) already exists.`).
fn duplicate_id_in_detail(detail: &str) -> Option<TaskId> {
    let start = detail.find("=(")? + 2;
    let end = detail.rfind(") already exists")?;
    TaskId::new(detail.get(start..end)?).ok()
}

/// Enqueues one task with a dedupe or supersede key.
fn enqueue_keyed(
    db: &mut impl Db,
    sql: &Sql,
    item: &Prepared,
    now: Timestamp,
    autocommit: bool,
) -> Result<Planned, OpError> {
    let record = &item.record;
    if let Some(key) = &record.supersede_key {
        let scope = sql.scope(&format!("{}/{key}", record.kind));
        let lock = if item.supersede { &sql.lock_supersede } else { &sql.lock_supersede_shared };
        db.query(lock, &[&scope])?;
    }
    // Dedupe can lose a race twice in a row only if the blocking task finished in between;
    // a few rounds settle it.
    for _ in 0..8 {
        if let Some(key) = &record.dedupe_key {
            let rows = db.query(&sql.find_dedupe, &[&record.kind, key])?;
            if let Some(row) = rows.first() {
                return Ok(Planned::Reused(Box::new(task_from_row(row)?)));
            }
        }
        let superseded = if item.supersede { supersede(db, sql, record, now)? } else { Vec::new() };
        let mut arrays = InsertArrays::default();
        arrays.push(record);
        let ids = [&record.id];
        if record.dedupe_key.is_none() {
            db.execute(&sql.insert, &arrays.params())
                .map_err(|err| insert_error(sql, err, &ids, autocommit))?;
            return Ok(Planned::Created(superseded));
        }
        let inserted = db
            .query(&sql.insert_dedupe, &arrays.params())
            .map_err(|err| insert_error(sql, err, &ids, autocommit))?;
        if !inserted.is_empty() {
            return Ok(Planned::Created(superseded));
        }
        if !superseded.is_empty() {
            // Another enqueue with our dedupe key committed after we looked, but we already
            // superseded tasks for ours: start the whole transaction over so those writes go.
            return Err(OpError::Retry);
        }
    }
    Err(OpError::Retry)
}

/// Cancels (or asks to cancel) the open tasks `record` supersedes; returns their ids.
fn supersede(
    db: &mut impl Db,
    sql: &Sql,
    record: &TaskRecord,
    now: Timestamp,
) -> Result<Vec<TaskId>, OpError> {
    let Some(key) = &record.supersede_key else { return Ok(Vec::new()) };
    let rows = db.query(&sql.lock_superseded, &[&record.kind, key])?;
    let reason = superseded_reason(&record.id);
    let mut ids = Vec::with_capacity(rows.len());
    let mut changed = Vec::new();
    for row in &rows {
        let other = task_from_row(row)?;
        let next = transition::request_cancel(&other, Some(&reason), now)
            .map_err(|refusal| StoreError::refused(&other.id, refusal))?;
        ids.push(other.id.clone());
        if next.revision != other.revision {
            changed.push((other, next));
        }
    }
    // The rows are locked, so every guarded update applies.
    write_pairs(db, sql, &changed, &[])?;
    Ok(ids)
}

impl PostgresTaskStore {
    /// Enqueues validated tasks on the store's own sessions.
    pub(crate) fn enqueue_prepared(
        &self,
        items: Vec<Prepared>,
        now: Timestamp,
    ) -> Result<Vec<EnqueueOutcome>, StoreError> {
        let sql = &self.inner.sql;
        // Without a transaction when the work is one task that needs none (its dedupe lookup
        // and insert settle their race themselves), or plain tasks only: one insert, atomic
        // alone. That saves the begin and commit round trips of a bulk enqueue.
        let autocommit = match items.as_slice() {
            [item] => !item.needs_transaction(),
            items => items.iter().all(Prepared::is_plain),
        };
        let planned = self.run(Durability::Full, |conn| {
            if autocommit {
                return enqueue_all(conn, sql, &items, now, true);
            }
            let mut tx = Tx::begin(conn)?;
            let planned = enqueue_all(&mut tx, sql, &items, now, false)?;
            tx.commit()?;
            Ok(planned)
        })?;
        let outcomes = outcomes(items, planned);
        if wakes(&outcomes, now) {
            self.wake();
        }
        Ok(outcomes)
    }

    /// Enqueues a task inside the caller's own transaction: the task exists only if the
    /// caller commits. Dedupe, supersede and duplicate-id rules apply as for
    /// [`TaskStore::enqueue`](tasks_core::TaskStore::enqueue), and a wake-up notification is
    /// sent with the caller's commit (PostgreSQL folds repeated ones within a transaction).
    ///
    /// The transaction may come from any connection to the same database (not necessarily
    /// this store's pools), at the default READ COMMITTED isolation.
    ///
    /// # Errors
    ///
    /// As [`TaskStore::enqueue`](tasks_core::TaskStore::enqueue). Input is validated before
    /// anything is sent; after a database error the caller's transaction is aborted and must
    /// be rolled back.
    pub fn enqueue_in_transaction(
        &self,
        tx: &mut postgres::Transaction<'_>,
        task: NewTask,
        now: Timestamp,
    ) -> Result<EnqueueOutcome, StoreError> {
        let mut outcomes = self.enqueue_batch_in_transaction(tx, vec![task], now)?;
        outcomes.pop().ok_or_else(|| StoreError::Backend {
            message: "an enqueue gave no outcome".to_owned(),
            source: None,
        })
    }

    /// Enqueues tasks in order inside the caller's own transaction (see
    /// [`PostgresTaskStore::enqueue_in_transaction`]).
    ///
    /// # Errors
    ///
    /// As [`TaskStore::enqueue_batch`](tasks_core::TaskStore::enqueue_batch).
    pub fn enqueue_batch_in_transaction(
        &self,
        tx: &mut postgres::Transaction<'_>,
        tasks: Vec<NewTask>,
        now: Timestamp,
    ) -> Result<Vec<EnqueueOutcome>, StoreError> {
        let inner = &self.inner;
        let items = prepare(tasks, now)?;
        let map = |err: OpError| match err {
            OpError::Store(err) => err,
            OpError::Driver { err, .. } => crate::error::store_error(&inner.endpoint, err),
            OpError::Retry => StoreError::Backend {
                message: "a concurrent enqueue took the same dedupe key; roll back and retry"
                    .to_owned(),
                source: None,
            },
        };
        let planned = enqueue_all(tx, &inner.sql, &items, now, false).map_err(map)?;
        let outcomes = outcomes(items, planned);
        if wakes(&outcomes, now) {
            let names = &inner.sql.names;
            tx.execute(&inner.sql.notify, &[&names.channel, &names.schema])
                .map_err(|err| crate::error::store_error(&inner.endpoint, err))?;
        }
        Ok(outcomes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_id_of_a_duplicate() {
        let id = duplicate_id_in_detail("Key (id)=(job:42.a) already exists.").expect("parsed");
        assert_eq!(id.as_str(), "job:42.a");
        assert!(duplicate_id_in_detail("something else").is_none());
    }
}
