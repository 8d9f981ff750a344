//! [`SqliteTaskStore`]: the pool, the writer, and the [`TaskStore`] implementation that runs
//! each method in one transaction.
//!
//! Writes go through one dedicated connection behind an in-process mutex, each in a
//! `BEGIN IMMEDIATE` transaction. SQLite admits one writer per file at a time anyway; taking
//! the mutex first means threads of this process queue on a cheap lock and hand over the
//! moment the previous commit ends, instead of all racing for SQLite's write lock and sleeping
//! in its busy handler (which backs off in steps of up to 100 ms). The busy timeout is then
//! only ever spent waiting for *other processes*. The one connection also keeps every write
//! statement prepared. Reads use the r2d2 pool and never wait for the writer (WAL mode). A
//! thread of the store copies commits into the database file (see `checkpoint`), nudged after
//! each commit.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};
use tasks_core::transition;
use tasks_core::{
    AppendedSteps, Capabilities, ChangeCursor, ChangePage, ClaimRequest, ClaimedStart,
    EnqueueOutcome, Finish, FinishedAndClaimed, InvalidInput, Lease, NewStep, NewTask,
    ProgressUpdate, RetentionPolicy, RetentionReport, StepQuery, StepRecord, StoreError,
    TaskAggregate, TaskError, TaskFilter, TaskId, TaskListQuery, TaskRecord, TaskStore, Timestamp,
};

use crate::checkpoint::Checkpointer;
use crate::error::{OpenError, pool, sql};
use crate::open::{configure_reader, open_checkpointer, open_writer};
use crate::options::SqliteOptions;
use crate::recent::RecentRecords;
use crate::tx::WriteTx;
use crate::{batch, changes, claim, enqueue, maintenance, reads, row, writes};

/// Write transactions between two prunings of the change feed, so it stays bounded even when
/// nobody runs `compact`.
const PRUNE_EVERY: u64 = 4_096;

/// A [`TaskStore`] in one SQLite file. Several processes may open the same file.
///
/// Open it with [`SqliteTaskStore::open`]; share it behind an `Arc`. Every method blocks on
/// SQLite: call it from a blocking thread, not from an async task.
pub struct SqliteTaskStore {
    writer: Mutex<Writer>,
    readers: Pool<SqliteConnectionManager>,
    options: SqliteOptions,
    writes: AtomicU64,
    /// Copies commits into the main file off the writer's path; `None` when the options turn
    /// it off (see `checkpoint`).
    checkpointer: Option<Checkpointer>,
}

/// The writer connection, and its memory of the records it last wrote (see `recent`).
struct Writer {
    conn: Connection,
    recent: RefCell<RecentRecords>,
}

impl fmt::Debug for SqliteTaskStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteTaskStore").field("options", &self.options).finish_non_exhaustive()
    }
}

impl SqliteTaskStore {
    /// The capabilities of every SQLite store: a change feed, and several processes may share
    /// one file.
    pub const CAPABILITIES: Capabilities =
        Capabilities::NONE.with_change_feed().with_multi_process();

    /// Opens (creating when missing) the database at `options.path`, prepares its schema and
    /// switches it to WAL mode.
    ///
    /// # Errors
    ///
    /// See [`prepare_schema`](crate::prepare_schema): a missing directory, a file that is not
    /// SQLite or a newer schema are refused before anything is written.
    pub fn open(options: SqliteOptions) -> Result<Self, OpenError> {
        let (writer, _) = open_writer(&options)?;
        let reader_options = options.clone();
        let manager = SqliteConnectionManager::file(&options.path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(move |conn| configure_reader(conn, &reader_options));
        let readers = Pool::builder()
            .max_size(options.pool_size)
            // Read connections open on first use: opening the store stays cheap, and a process
            // that only writes never holds idle readers.
            .min_idle(Some(0))
            .test_on_check_out(false)
            .connection_timeout(options.busy_timeout.max(Duration::from_secs(1)))
            .build(manager)
            .map_err(|e| OpenError::Sqlite { path: options.path.clone(), source: Box::new(e) })?;
        // Started last, so no early return leaves the thread behind. A store that cannot start
        // it does not open: the options asked for it.
        let checkpointer = match options.background_checkpoint {
            Some(interval) => Some(
                Checkpointer::start(open_checkpointer(&options)?, interval)
                    .map_err(|source| OpenError::Io { path: options.path.clone(), source })?,
            ),
            None => None,
        };
        Ok(SqliteTaskStore {
            writer: Mutex::new(Writer { conn: writer, recent: RefCell::default() }),
            readers,
            options,
            writes: AtomicU64::new(0),
            checkpointer,
        })
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &SqliteOptions {
        &self.options
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction on the writer, committing on `Ok` and
    /// rolling back on `Err`.
    fn write<T>(
        &self,
        work: impl FnOnce(&WriteTx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A panic while holding the lock unwinds through the transaction's drop, which rolls it
        // back: the connection is clean, so a poisoned lock is safe to take over.
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = WriteTx::begin(&writer.conn, &writer.recent)?;
        let value = work(&tx)?;
        if self.writes.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            changes::prune(&tx, self.options.change_log_limit)?;
        }
        tx.commit()?;
        // Outside the write lock: waking the thread is a system call the next writer need not
        // wait for.
        drop(writer);
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.nudge();
        }
        Ok(value)
    }

    /// Runs `work` on a pooled read connection inside one read transaction.
    fn read<T>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.readers.get().map_err(pool)?;
        let tx = conn.transaction().map_err(sql)?;
        let value = work(&tx)?;
        tx.commit().map_err(sql)?;
        Ok(value)
    }
}

impl TaskStore for SqliteTaskStore {
    fn capabilities(&self) -> Capabilities {
        Self::CAPABILITIES
    }

    fn enqueue(&self, task: NewTask, now: Timestamp) -> Result<EnqueueOutcome, StoreError> {
        self.write(|tx| enqueue::enqueue(tx, task, now))
    }

    fn enqueue_batch(
        &self,
        tasks: Vec<NewTask>,
        now: Timestamp,
    ) -> Result<Vec<EnqueueOutcome>, StoreError> {
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|tx| enqueue::enqueue_batch(tx, tasks, now))
    }

    fn get(&self, id: &TaskId) -> Result<Option<TaskRecord>, StoreError> {
        let conn = self.readers.get().map_err(pool)?;
        row::load_record(&conn, id)
    }

    fn list(&self, query: &TaskListQuery) -> Result<Vec<TaskRecord>, StoreError> {
        let conn = self.readers.get().map_err(pool)?;
        reads::list(&conn, query)
    }

    fn aggregate(&self, filter: &TaskFilter) -> Result<TaskAggregate, StoreError> {
        let conn = self.readers.get().map_err(pool)?;
        reads::aggregate(&conn, filter)
    }

    fn list_steps(&self, id: &TaskId, query: &StepQuery) -> Result<Vec<StepRecord>, StoreError> {
        self.read(|conn| reads::list_steps(conn, id, query))
    }

    fn claim(&self, request: &ClaimRequest, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError> {
        // Refuse a bad request before taking the write lock.
        request.validate()?;
        self.write(|tx| claim::claim(tx, request, now))
    }

    fn claim_and_start(
        &self,
        request: &ClaimRequest,
        now: Timestamp,
    ) -> Result<Vec<ClaimedStart>, StoreError> {
        request.validate()?;
        self.write(|tx| claim::claim_and_start(tx, request, now))
    }

    fn start(&self, lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError> {
        self.write(|tx| {
            writes::worker_write(tx, lease, |record| transition::start(record, &lease.token, now))
        })
    }

    fn heartbeat(
        &self,
        lease: &Lease,
        lease_for: Duration,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        if lease_for.is_zero() {
            return Err(InvalidInput::Range { field: "lease", expected: "longer than zero" }.into());
        }
        self.write(|tx| {
            writes::worker_write(tx, lease, |record| {
                transition::heartbeat(record, &lease.token, lease_for, now)
            })
        })
    }

    fn set_progress(
        &self,
        lease: &Lease,
        update: &ProgressUpdate,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        transition::validate_progress(update)?;
        self.write(|tx| {
            writes::worker_write(tx, lease, |record| {
                transition::set_progress(record, &lease.token, update, now)
            })
        })
    }

    fn append_steps(
        &self,
        lease: &Lease,
        steps: &[NewStep],
        now: Timestamp,
    ) -> Result<AppendedSteps, StoreError> {
        for step in steps {
            transition::validate_step(step)?;
        }
        self.write(|tx| writes::append_steps(tx, lease, steps, now))
    }

    fn complete(
        &self,
        lease: &Lease,
        output: serde_json::Value,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        transition::validate_output(&output)?;
        self.write(|tx| {
            writes::worker_write(tx, lease, |record| {
                transition::complete(record, &lease.token, output, now)
            })
        })
    }

    fn fail(
        &self,
        lease: &Lease,
        error: TaskError,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        transition::validate_error(&error)?;
        self.write(|tx| {
            writes::worker_write(tx, lease, |record| {
                transition::fail(record, &lease.token, error, retry_at, now)
            })
        })
    }

    fn acknowledge_cancel(
        &self,
        lease: &Lease,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        if let Some(reason) = reason {
            tasks_core::limits::validate_text("reason", reason, false)?;
        }
        self.write(|tx| {
            writes::worker_write(tx, lease, |record| {
                transition::acknowledge_cancel(record, &lease.token, reason, now)
            })
        })
    }

    fn release(&self, lease: &Lease, now: Timestamp) -> Result<TaskRecord, StoreError> {
        self.write(|tx| {
            writes::worker_write(tx, lease, |record| transition::release(record, &lease.token, now))
        })
    }

    fn cancel(
        &self,
        id: &TaskId,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<TaskRecord, StoreError> {
        if let Some(reason) = reason {
            tasks_core::limits::validate_text("reason", reason, false)?;
        }
        self.write(|tx| writes::cancel(tx, id, reason, now))
    }

    fn retry(&self, id: &TaskId, now: Timestamp) -> Result<TaskRecord, StoreError> {
        self.write(|tx| writes::retry(tx, id, now))
    }

    fn start_batch(
        &self,
        leases: &[Lease],
        now: Timestamp,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|tx| batch::start_batch(tx, leases, now))
    }

    fn finish_batch(
        &self,
        finishes: &[Finish],
        now: Timestamp,
    ) -> Result<Vec<Result<TaskRecord, StoreError>>, StoreError> {
        if finishes.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|tx| batch::finish_batch(tx, finishes, now))
    }

    fn finish_and_claim(
        &self,
        finishes: &[Finish],
        request: &ClaimRequest,
        now: Timestamp,
    ) -> Result<FinishedAndClaimed, StoreError> {
        request.validate()?;
        self.write(|tx| {
            let finished = batch::finish_batch(tx, finishes, now)?;
            let claimed = claim::claim_and_start(tx, request, now)?;
            Ok(FinishedAndClaimed { finished, claimed: Ok(claimed) })
        })
    }

    fn recover_expired(&self, limit: u32, now: Timestamp) -> Result<Vec<TaskRecord>, StoreError> {
        self.write(|tx| maintenance::recover_expired(tx, limit, now))
    }

    fn mark_stale(
        &self,
        silent_for: Duration,
        reason: &str,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        tasks_core::limits::validate_text("reason", reason, true)?;
        self.write(|tx| maintenance::mark_stale(tx, silent_for, reason, limit, now))
    }

    fn compact(
        &self,
        policy: &RetentionPolicy,
        now: Timestamp,
    ) -> Result<RetentionReport, StoreError> {
        let keep = self.options.change_log_limit;
        self.write(|tx| maintenance::compact(tx, policy, now, keep))
    }

    fn read_changes(
        &self,
        after: Option<&ChangeCursor>,
        limit: u32,
    ) -> Result<ChangePage, StoreError> {
        self.read(|conn| changes::read(conn, after, limit))
    }

    fn change_cursor(&self) -> Result<ChangeCursor, StoreError> {
        let conn = self.readers.get().map_err(pool)?;
        changes::cursor(&conn)
    }
}
