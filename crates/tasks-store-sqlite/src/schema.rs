//! The schema: its versioned migrations, [`schema_sql`] (the whole text, for inspection) and
//! the code that applies them inside one `BEGIN IMMEDIATE` transaction.
//!
//! The version lives in the row `schema_version` of `tasks_meta`. Upgrades keep the data:
//! each migration adds tables, columns or indexes, or rebuilds an index, and never rewrites a
//! row, so every boot may run [`prepare_schema`](crate::prepare_schema) safely. A file whose
//! version is newer than [`SCHEMA_VERSION`] is refused before anything is written (an older
//! build never meets a layout it does not know).
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
pub const SCHEMA_VERSION: i64 = 2;

/// The migrations, in order: `(version, SQL)`. Each brings the schema from the version before
/// it to its own.
const MIGRATIONS: &[(i64, &str)] = &[(1, V1), (2, V2)];

/// The open statuses (queued, claimed, running) as the partial indexes of version 2 test them.
/// A query that must use one of those indexes spells this exact expression: SQLite uses a
/// partial index only when the query's WHERE clause holds its condition term for term.
pub(crate) const OPEN_STATUS: &str =
    "(status = 'queued' OR status = 'claimed' OR status = 'running')";

/// The finished statuses (succeeded, failed, cancelled), spelled as [`OPEN_STATUS`] is.
pub(crate) const FINISHED_STATUS: &str =
    "(status = 'succeeded' OR status = 'failed' OR status = 'cancelled')";

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

/// Version 2: the three partial indexes over three statuses test them with `=` and `OR`
/// instead of `IN (...)`. SQLite evaluates an `IN` list of more than two constants through a
/// temporary b-tree built once per statement, and every INSERT or UPDATE of `tasks` evaluates
/// the condition of each partial index: with three such lists, a one-row update built three
/// b-trees, a third of its CPU time. Equality tests joined by `OR` are plain comparisons.
const V2: &str = "DROP INDEX IF EXISTS tasks_dedupe_idx;
DROP INDEX IF EXISTS tasks_supersede_idx;
DROP INDEX IF EXISTS tasks_finished_idx;
CREATE INDEX tasks_dedupe_idx
    ON tasks (kind, dedupe_key)
    WHERE dedupe_key IS NOT NULL
      AND (status = 'queued' OR status = 'claimed' OR status = 'running');
CREATE INDEX tasks_supersede_idx
    ON tasks (kind, supersede_key)
    WHERE supersede_key IS NOT NULL
      AND (status = 'queued' OR status = 'claimed' OR status = 'running');
CREATE INDEX tasks_finished_idx
    ON tasks (status, kind, finished_at, id)
    WHERE (status = 'succeeded' OR status = 'failed' OR status = 'cancelled');
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

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::{FINISHED_STATUS, META, OPEN_STATUS, SCHEMA_VERSION, V1, migrate};

    /// The query plan of `sql_text` on `conn`, as one line of text.
    fn plan(conn: &Connection, sql_text: &str) -> String {
        let mut statement =
            conn.prepare(&format!("EXPLAIN QUERY PLAN {sql_text}")).expect("the query prepares");
        let details: Vec<String> = statement
            .query_map([], |row| row.get::<_, String>(3))
            .expect("the plan runs")
            .collect::<Result<_, _>>()
            .expect("the plan reads");
        details.join("; ")
    }

    /// Why version 2 exists: queries spelled with the status constants keep using the partial
    /// indexes, so the `OR` form costs the reads nothing.
    #[test]
    fn partial_indexes_serve_queries_spelled_with_the_status_constants() {
        let conn = Connection::open_in_memory().expect("an in-memory database");
        conn.execute_batch(&super::schema_sql()).expect("the schema runs");
        let dedupe = plan(
            &conn,
            &format!(
                "SELECT id FROM tasks WHERE kind = 'k' AND dedupe_key = 'd' AND {OPEN_STATUS} \
                 AND cancel_requested_at IS NULL ORDER BY id LIMIT 1"
            ),
        );
        assert!(dedupe.contains("tasks_dedupe_idx"), "dedupe lookup: {dedupe}");
        let supersede = plan(
            &conn,
            &format!(
                "SELECT id FROM tasks WHERE kind = 'k' AND supersede_key = 's' AND {OPEN_STATUS}"
            ),
        );
        assert!(supersede.contains("tasks_supersede_idx"), "supersede lookup: {supersede}");
        let retention = plan(
            &conn,
            &format!(
                "SELECT id FROM tasks WHERE status = 'failed' AND finished_at <= 5 \
                 AND {FINISHED_STATUS}"
            ),
        );
        assert!(retention.contains("tasks_finished_idx"), "retention scan: {retention}");
    }

    /// A database of version 1 is brought to the current version, its three-status indexes
    /// rebuilt in the `OR` form, and its rows kept.
    #[test]
    fn version_1_is_upgraded_keeping_rows() {
        let mut conn = Connection::open_in_memory().expect("an in-memory database");
        conn.execute_batch(META).expect("meta");
        conn.execute_batch(V1).expect("version 1");
        conn.execute_batch(
            "INSERT INTO tasks_meta (key, value) VALUES ('schema_version', 1);
             INSERT INTO tasks (id, kind, status, input, channels, attempt, max_attempts,
               priority, scheduled_at, created_at, updated_at, last_step_seq, revision)
             VALUES ('t1', 'k', 'queued', '{}', '[]', 0, 3, 0, 1, 1, 1, 0, 1);",
        )
        .expect("a version 1 row");
        let tx = conn.transaction().expect("begin");
        assert!(matches!(migrate(&tx).expect("migrates"), super::Migration::Done { from: 1 }));
        tx.commit().expect("commit");
        let version: i64 = conn
            .query_row("SELECT value FROM tasks_meta WHERE key = 'schema_version'", [], |row| {
                row.get(0)
            })
            .expect("the version row");
        assert_eq!(version, SCHEMA_VERSION);
        for index in ["tasks_dedupe_idx", "tasks_supersede_idx", "tasks_finished_idx"] {
            let text: String = conn
                .query_row("SELECT sql FROM sqlite_master WHERE name = ?1", [index], |row| {
                    row.get(0)
                })
                .expect("the index exists");
            assert!(!text.contains(" IN ("), "{index} still tests an IN list: {text}");
        }
        let rows: i64 =
            conn.query_row("SELECT count(*) FROM tasks", [], |row| row.get(0)).expect("count");
        assert_eq!(rows, 1, "the upgrade keeps the rows");
    }
}
