//! The schema: its versioned migrations, [`schema_sql`] (the whole text, for inspection) and
//! the code that applies them inside one `BEGIN IMMEDIATE` transaction.
//!
//! The version lives in the row `schema_version` of `tasks_meta`. Upgrades are additive: each
//! migration adds tables, columns or indexes and never rewrites what an older build relies
//! on, so every boot may run [`prepare_schema`](crate::prepare_schema) safely. A file whose
//! version is newer than [`SCHEMA_VERSION`] is refused before anything is written.
//!
//! Layout, and why:
//! - `tasks`: one row per task, a column per [`TaskRecord`](tasks_core::TaskRecord) field.
//!   JSON documents are text, timestamps integer milliseconds, the status its wire name.
//! - Partial indexes keep each hot path small: the claim path only indexes queued tasks in
//!   claim order, dedupe and supersede only open tasks holding a key, the lease index only
//!   claimed or running tasks. One claimed-or-running task per concurrency key is a UNIQUE
//!   partial index, so the database itself refuses a second one.
//! - Only the default list order (`createdAt` descending) has an index. An index on
//!   `updated_at` or `scheduled_at` would be rewritten by every transition (and `updated_at`
//!   by every heartbeat and progress write); the two cost about a third of the bulk-enqueue
//!   throughput, so lists in those orders sort the filtered rows instead.
//! - `tasks_steps`: steps keyed by `(task_id, seq)`, clustered by that key.
//! - `tasks_channels`: one row per (channel, task), so a channel filter is an index lookup.
//! - `tasks_changes`: the change feed. SQLite has one writer at a time, so an id given in the
//!   writing transaction grows in commit order; that id is the cursor. It is a plain rowid,
//!   not `AUTOINCREMENT` (which rewrites `sqlite_sequence`, one more page per commit): the
//!   store never deletes the newest entry, so ids are never reused (see `changes`).
//! - The claimed-or-running tasks have a partial index by kind, not by lease expiry: a
//!   heartbeat moves the expiry, and the active set is small enough (one row per running
//!   task) to sort when recovering expired leases.

use rusqlite::{Connection, OptionalExtension, Transaction};

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = 1;

/// The migrations, in order: `(version, SQL)`. Each brings the schema from the version before
/// it to its own.
const MIGRATIONS: &[(i64, &str)] = &[(1, V1)];

/// The key/value table holding the schema version and the change-feed bookkeeping. Its shape
/// is fixed forever: every version reads its version from it.
const META: &str = "CREATE TABLE IF NOT EXISTS tasks_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
) WITHOUT ROWID;
";

const V1: &str = "CREATE TABLE IF NOT EXISTS tasks (
    id                  TEXT PRIMARY KEY NOT NULL,
    kind                TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN
                          ('queued', 'claimed', 'running', 'succeeded', 'failed', 'cancelled')),
    input               TEXT NOT NULL,
    output              TEXT,
    error               TEXT,
    metadata            TEXT,
    progress_percent    REAL,
    progress_label      TEXT,
    progress_meta       TEXT,
    concurrency_key     TEXT,
    dedupe_key          TEXT,
    supersede_key       TEXT,
    channels            TEXT NOT NULL,
    attempt             INTEGER NOT NULL,
    max_attempts        INTEGER NOT NULL,
    priority            INTEGER NOT NULL,
    scheduled_at        INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    claimed_at          INTEGER,
    started_at          INTEGER,
    finished_at         INTEGER,
    cancel_requested_at INTEGER,
    lease_owner         TEXT,
    lease_token         TEXT,
    lease_expires_at    INTEGER,
    last_heartbeat_at   INTEGER,
    retry_scheduled_at  INTEGER,
    stale_at            INTEGER,
    stale_reason        TEXT,
    last_step_seq       INTEGER NOT NULL,
    revision            INTEGER NOT NULL
);

-- Claim path: queued tasks in claim order (priority DESC, scheduled_at, id).
CREATE INDEX IF NOT EXISTS tasks_claim_idx
    ON tasks (priority DESC, scheduled_at, id) WHERE status = 'queued';
-- Dedupe and supersede lookups: open tasks holding a key.
CREATE INDEX IF NOT EXISTS tasks_dedupe_idx
    ON tasks (kind, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'claimed', 'running');
CREATE INDEX IF NOT EXISTS tasks_supersede_idx
    ON tasks (kind, supersede_key)
    WHERE supersede_key IS NOT NULL AND status IN ('queued', 'claimed', 'running');
-- At most one claimed-or-running task per concurrency key, held by the database itself.
CREATE UNIQUE INDEX IF NOT EXISTS tasks_concurrency_idx
    ON tasks (concurrency_key)
    WHERE concurrency_key IS NOT NULL AND status IN ('claimed', 'running');
-- Claimed or running tasks, by kind (active counts, lease recovery, stale scans).
CREATE INDEX IF NOT EXISTS tasks_active_idx
    ON tasks (kind) WHERE status IN ('claimed', 'running');
-- The default list order (newest first). The other orders sort the filtered rows instead:
-- an index on updated_at would be rewritten by every heartbeat and progress write.
CREATE INDEX IF NOT EXISTS tasks_created_idx ON tasks (created_at, id);
-- Retention: finished tasks by outcome, kind and age.
CREATE INDEX IF NOT EXISTS tasks_finished_idx
    ON tasks (status, kind, finished_at, id)
    WHERE status IN ('succeeded', 'failed', 'cancelled');

CREATE TABLE IF NOT EXISTS tasks_steps (
    task_id    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    id         TEXT NOT NULL,
    attempt    INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    level      TEXT NOT NULL,
    message    TEXT NOT NULL,
    meta       TEXT,
    percent    REAL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, seq)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS tasks_channels (
    channel TEXT NOT NULL,
    task_id TEXT NOT NULL,
    PRIMARY KEY (channel, task_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS tasks_changes (
    id       INTEGER PRIMARY KEY,
    task_id  TEXT NOT NULL,
    revision INTEGER NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('updated', 'deleted'))
);

INSERT OR IGNORE INTO tasks_meta (key, value) VALUES ('changes_pruned_through', 0);
";

/// The whole schema as SQL text: the version table, then every migration in order, then the
/// version row. Running it on an empty database gives what
/// [`prepare_schema`](crate::prepare_schema) builds.
pub fn schema_sql() -> String {
    let mut sql = String::from(META);
    for (version, migration) in MIGRATIONS {
        sql.push_str(&format!("\n-- version {version}\n"));
        sql.push_str(migration);
    }
    sql.push_str(&format!(
        "\nINSERT OR REPLACE INTO tasks_meta (key, value) VALUES ('schema_version', {SCHEMA_VERSION});\n"
    ));
    sql
}

/// Reads the schema version of a database: `None` when it holds no `tasks_meta` table (a
/// new or foreign database) or no version row.
pub(crate) fn read_version(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tasks_meta')",
        [],
        |row| row.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    conn.query_row("SELECT value FROM tasks_meta WHERE key = 'schema_version'", [], |row| {
        row.get(0)
    })
    .optional()
}

/// What [`migrate`] found.
pub(crate) enum Migration {
    /// The schema is at [`SCHEMA_VERSION`]; it was at `from` before (`0`: a new database).
    Done {
        /// The version found.
        from: i64,
    },
    /// The file's version is newer than this build: nothing was changed.
    Newer(i64),
}

/// Brings the schema to [`SCHEMA_VERSION`] inside `tx` (which the caller began with
/// `BEGIN IMMEDIATE`, so two processes booting at once apply each migration once).
pub(crate) fn migrate(tx: &Transaction<'_>) -> rusqlite::Result<Migration> {
    let found = read_version(tx)?.unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Ok(Migration::Newer(found));
    }
    if found == SCHEMA_VERSION {
        return Ok(Migration::Done { from: found });
    }
    tx.execute_batch(META)?;
    for (version, migration) in MIGRATIONS {
        if *version > found {
            tx.execute_batch(migration)?;
        }
    }
    tx.execute(
        "INSERT OR REPLACE INTO tasks_meta (key, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION],
    )?;
    Ok(Migration::Done { from: found })
}
