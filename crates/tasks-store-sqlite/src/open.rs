//! Opening a database file safely: the checks that run before anything is written (the
//! directory exists, the file is an SQLite database, its schema is not newer than ours), the
//! per-connection settings, and [`prepare_schema`].
//!
//! The checks never modify the file: the header is read with plain file I/O, and the schema
//! version through a connection that is query-only and does not checkpoint on close.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use crate::error::OpenError;
use crate::options::SqliteOptions;
use crate::schema::{self, Migration, SCHEMA_VERSION};

/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Statements the writer keeps prepared: every fixed statement of the store fits, so the hot
/// paths never re-parse SQL. Batched inserts and updates come in seven sizes each, and each
/// kind of transition (claim, start, complete, fail, ...) is its own update text.
const WRITER_STATEMENT_CACHE: usize = 160;

/// Statements each read connection keeps prepared: lists and step reads with different limits
/// are distinct statements (see the module docs of `row`).
const READER_STATEMENT_CACHE: usize = 64;

/// WAL pages between two automatic checkpoints (SQLite's default is 1,000). A checkpoint copies
/// each page once however often it was rewritten, and costs two fsyncs even at
/// `synchronous = NORMAL`; the small hot pages of a queue (the tail of the change log, the lease
/// index) are rewritten by nearly every commit, so checkpointing ten times less often removes
/// most of that work. The WAL grows to about 40 MiB between checkpoints. With the background
/// checkpoint on (`checkpoint`), this one finds little left to copy; it still bounds the WAL
/// should that thread fall behind.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 10_000;

/// What [`prepare_schema`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct SchemaReport {
    /// The version found before (0 for a new database).
    pub previous_version: i64,
    /// The version now (always [`SCHEMA_VERSION`]).
    pub version: i64,
}

/// Creates or upgrades the schema of the database at `options.path`.
///
/// Idempotent and safe on every boot, also from several processes at once: the migrations run
/// inside one `BEGIN IMMEDIATE` transaction and only those newer than the file's version are
/// applied. [`SqliteTaskStore::open`](crate::SqliteTaskStore::open) calls it.
///
/// # Errors
///
/// [`OpenError::MissingDirectory`], [`OpenError::NotSqlite`] and [`OpenError::NewerSchema`]
/// refuse the file before anything is written; [`OpenError::InvalidOptions`],
/// [`OpenError::Io`] and [`OpenError::Sqlite`] as their docs say.
pub fn prepare_schema(options: &SqliteOptions) -> Result<SchemaReport, OpenError> {
    open_writer(options).map(|(_, report)| report)
}

/// Checks the file, opens the writer connection and prepares the schema on it.
pub(crate) fn open_writer(
    options: &SqliteOptions,
) -> Result<(Connection, SchemaReport), OpenError> {
    validate(options)?;
    let path = options.path();
    if check_file(path)? {
        probe(path, options.busy_timeout)?;
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn =
        Connection::open_with_flags(path, flags).map_err(|e| OpenError::sqlite(path, e))?;
    configure(&conn, options).map_err(|e| OpenError::sqlite(path, e))?;
    // Takes effect only on a file with nothing written yet, so it must come before WAL mode
    // (switching writes the header); a file that exists keeps its page size, untouched.
    conn.pragma_update(None, "page_size", options.page_size)
        .map_err(|e| OpenError::sqlite(path, e))?;
    conn.set_prepared_statement_cache_capacity(WRITER_STATEMENT_CACHE);
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
        .map_err(|e| OpenError::sqlite(path, e))?;
    // The CHECK on `tasks.status` lists six values, and SQLite tests an `IN` list of more than
    // two constants through a temporary b-tree built for every statement that writes the
    // column: a third of the CPU of a one-row insert or update. This connection writes
    // statuses only from `TaskStatus::as_str`, and every read refuses a status it does not
    // know (`row::read_record`), so the writer skips the check; the constraint stays in the
    // schema for any other tool that writes the file.
    conn.pragma_update(None, "ignore_check_constraints", true)
        .map_err(|e| OpenError::sqlite(path, e))?;
    enable_wal(&conn, options.busy_timeout).map_err(|e| OpenError::sqlite(path, e))?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| OpenError::sqlite(path, e))?;
    let migration = schema::migrate(&tx).map_err(|e| OpenError::sqlite(path, e))?;
    let previous_version = match migration {
        Migration::Newer(found) => {
            // Dropping the transaction rolls it back; nothing was written.
            return Err(newer(path, found));
        }
        Migration::Done { from } => from,
    };
    tx.commit().map_err(|e| OpenError::sqlite(path, e))?;
    Ok((conn, SchemaReport { previous_version, version: SCHEMA_VERSION }))
}

/// Pages of cache the checkpoint thread's connection keeps: a checkpoint copies frames from the
/// WAL file to the main file without going through the page cache.
const CHECKPOINTER_CACHE_PAGES: i64 = 16;

/// Opens the background checkpoint's connection (see `checkpoint`) to a file the writer has
/// already checked and prepared: never creating it, with the settings every connection gets
/// (its busy timeout covers the schema read before its first checkpoint) and a small cache.
pub(crate) fn open_checkpointer(options: &SqliteOptions) -> Result<Connection, OpenError> {
    let path = options.path();
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| OpenError::sqlite(path, e))?;
    configure(&conn, options).map_err(|e| OpenError::sqlite(path, e))?;
    conn.pragma_update(None, "cache_size", CHECKPOINTER_CACHE_PAGES)
        .map_err(|e| OpenError::sqlite(path, e))?;
    Ok(conn)
}

/// Opens a pooled read connection's settings: the shared ones, and query-only, so a reader can
/// never write by mistake.
pub(crate) fn configure_reader(conn: &Connection, options: &SqliteOptions) -> rusqlite::Result<()> {
    configure(conn, options)?;
    conn.set_prepared_statement_cache_capacity(READER_STATEMENT_CACHE);
    conn.pragma_update(None, "query_only", true)
}

fn validate(options: &SqliteOptions) -> Result<(), OpenError> {
    let path = options.path();
    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
        // SQLite reads both as "a private in-memory database", which a pool of connections
        // cannot share: refuse rather than hand each connection its own empty store.
        return Err(OpenError::InvalidOptions { option: "path", expected: "a file path" });
    }
    if options.pool_size == 0 {
        return Err(OpenError::InvalidOptions { option: "poolSize", expected: "at least 1" });
    }
    if options.change_log_limit == 0 {
        return Err(OpenError::InvalidOptions { option: "changeLogLimit", expected: "at least 1" });
    }
    if !(options.page_size.is_power_of_two() && (512..=65_536).contains(&options.page_size)) {
        return Err(OpenError::InvalidOptions {
            option: "pageSize",
            expected: "a power of two from 512 to 65536",
        });
    }
    Ok(())
}

/// Checks the path without opening it: its directory exists, and a file already there starts
/// with the SQLite header. Returns whether a non-empty file is there.
fn check_file(path: &Path) -> Result<bool, OpenError> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !directory.is_dir() {
        return Err(OpenError::MissingDirectory { path: path.to_owned() });
    }
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => return Err(OpenError::Io { path: path.to_owned(), source }),
    };
    if !metadata.is_file() {
        return Err(OpenError::NotSqlite { path: path.to_owned() });
    }
    if metadata.len() == 0 {
        // SQLite treats an empty file as an empty database.
        return Ok(false);
    }
    let mut header = [0u8; 16];
    let read = File::open(path)
        .and_then(|mut file| read_up_to(&mut file, &mut header))
        .map_err(|source| OpenError::Io { path: path.to_owned(), source })?;
    if read < header.len() || &header != SQLITE_MAGIC {
        return Err(OpenError::NotSqlite { path: path.to_owned() });
    }
    Ok(true)
}

fn read_up_to(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Reads the schema version of an existing file without writing to it, and refuses a file
/// that SQLite cannot read or whose version is newer than ours.
fn probe(path: &Path, busy_timeout: Duration) -> Result<(), OpenError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| OpenError::sqlite(path, e))?;
    // The last connection to close a WAL database checkpoints it into the main file; this one
    // must not, so the main file stays byte for byte as it was when we refuse it.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
        .map_err(|e| OpenError::sqlite(path, e))?;
    conn.busy_timeout(busy_timeout).map_err(|e| OpenError::sqlite(path, e))?;
    conn.pragma_update(None, "query_only", true).map_err(|e| OpenError::sqlite(path, e))?;
    match schema::read_version(&conn).map_err(|e| OpenError::sqlite(path, e))? {
        Some(found) if found > SCHEMA_VERSION => Err(newer(path, found)),
        _ => Ok(()),
    }
}

fn newer(path: &Path, found: i64) -> OpenError {
    OpenError::NewerSchema { path: path.to_owned(), found, supported: SCHEMA_VERSION }
}

/// The settings every connection gets.
fn configure(conn: &Connection, options: &SqliteOptions) -> rusqlite::Result<()> {
    conn.busy_timeout(options.busy_timeout)?;
    conn.pragma_update(None, "synchronous", options.durability.pragma_value())?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // 16 MiB of page cache per connection (the default is 2 MiB): claim and list scans stay in
    // memory for queues of a few hundred thousand tasks.
    conn.pragma_update(None, "cache_size", -16_384)?;
    Ok(())
}

/// Switches the file to WAL mode (persistent: a no-op once done). Changing the journal mode
/// needs a moment of exclusive access, and SQLite may answer BUSY at once instead of calling
/// the busy handler, so this retries until the busy timeout.
fn enable_wal(conn: &Connection, busy_timeout: Duration) -> rusqlite::Result<()> {
    let deadline = Instant::now() + busy_timeout;
    loop {
        let result: rusqlite::Result<String> =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0));
        match result {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(_) if Instant::now() < deadline => {}
            Ok(mode) => {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                    Some(format!("journal mode stayed {mode}")),
                ));
            }
            Err(error)
                if error.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && Instant::now() < deadline => {}
            Err(error) => return Err(error),
        }
        thread::sleep(Duration::from_millis(5));
    }
}
