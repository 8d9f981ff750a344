//! The schema: its versioned migrations, [`schema_sql`] (the whole DDL as text, for a DBA or a
//! migration tool) and [`prepare_schema`] (applies what is missing, safely when several
//! processes start at once).
//!
//! Layout, and why:
//! - `<prefix>tasks`: one row per task, `fillfactor = 80` so the frequent heartbeat, progress
//!   and step-counter updates stay HOT (heap-only: no index is touched). No index covers a
//!   column those writes change (`updated_at`, `revision`, `last_heartbeat_at`,
//!   `lease_expires_at`, progress, `last_step_seq`); every index is on columns that change
//!   only on enqueue, claim, finish or cancel.
//! - Invariants held by the database for every process: a partial unique index on
//!   `(kind, dedupe_key)` over open tasks with no cancel requested (dedupe), and one on
//!   `concurrency_key` over claimed or running tasks.
//! - `<prefix>steps`: the step logs, keyed by `(task_id, seq)`.
//! - `<prefix>changes`: the change feed, filled by statement-level triggers on the tasks
//!   table (so every insert and update is logged, whatever path made it) and by `compact` for
//!   deletions, one row per statement listing the tasks it wrote (since version 2). Each row
//!   carries the id of the transaction that wrote it (`xid8`); readers only read rows below
//!   the oldest transaction still running, so a row can never appear behind a cursor that was
//!   already handed out (see the `changes` module).
//! - `<prefix>created_order`: `(at, task_id)` for every task, the default list order (since
//!   version 3, which explains why it is not an index on the tasks table). The insert and
//!   delete triggers keep it, so no path of the store can forget it; like the change feed, it
//!   misses what bypasses triggers (`TRUNCATE`, `session_replication_role = replica`). A role
//!   granted rights table by table needs them on this table too.
//! - `<prefix>schema_version`: one row per applied migration. Upgrades keep the data (version 2
//!   relaxes two columns of the change feed and replaces its trigger functions; version 3
//!   copies the creation order into its table and drops the index it replaces).
//!
//! Ids use the `C` collation: byte order, the order core's `TaskId` compares in (claim and
//! list ties are broken by id), whatever the database's default collation.
//!
//! JSON documents are stored as `json`, not `jsonb`: `jsonb` cannot hold a `\u0000` escape,
//! which is valid JSON that callers may send, and the store never queries inside documents
//! (channels, which it does filter on, are `jsonb`).
//!
//! Needs PostgreSQL 13 or newer (`xid8`, `pg_current_xact_id`).

use postgres::{Client, IsolationLevel, NoTls};

use crate::error::{PostgresError, sqlstate};
use crate::ident::Names;
use crate::options::PostgresStoreOptions;
use crate::session::Session;

/// The schema version this code writes and reads.
pub const SCHEMA_VERSION: i32 = 3;

/// Advisory-lock class of schema preparation (`pg_advisory_xact_lock(class, hashtext(...))`).
pub(crate) const LOCK_SCHEMA: i32 = 0x7461_0001;
/// Advisory-lock class of a kind's `maxActive` count during a claim.
pub(crate) const LOCK_KIND_LIMIT: i32 = 0x7461_0002;
/// Advisory-lock class of the store-wide `maxActive` count during a claim.
pub(crate) const LOCK_GLOBAL_LIMIT: i32 = 0x7461_0003;
/// Advisory-lock class of a (kind, supersedeKey) group during an enqueue.
pub(crate) const LOCK_SUPERSEDE: i32 = 0x7461_0004;

/// One migration: the DDL that brings the schema from `version - 1` to `version`. Every
/// statement is idempotent (`IF NOT EXISTS`, `OR REPLACE`), so the full text can be re-run.
struct Migration {
    version: i32,
    description: &'static str,
    sql: fn(&Names) -> String,
}

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, description: "tasks, steps, change feed", sql: migration_1 },
    Migration { version: 2, description: "one change-feed row per statement", sql: migration_2 },
    Migration { version: 3, description: "creation order in its own table", sql: migration_3 },
];

fn migration_1(n: &Names) -> String {
    let tasks = &n.tasks;
    let steps = &n.steps;
    let changes = &n.changes;
    let state = &n.change_state;
    let open = "status IN ('queued', 'claimed', 'running')";
    let active = "status IN ('claimed', 'running')";
    let log_insert = n.qualified("tasks_log_insert");
    let log_update = n.qualified("tasks_log_update");
    let trg_insert = n.local("tasks_log_insert");
    let trg_update = n.local("tasks_log_update");
    format!(
        r#"
CREATE TABLE IF NOT EXISTS {tasks} (
    id text COLLATE "C" NOT NULL,
    kind text NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'claimed', 'running', 'succeeded', 'failed', 'cancelled')),
    input json NOT NULL,
    output json,
    error json,
    metadata json,
    progress_percent double precision,
    progress_label text,
    progress_meta json,
    concurrency_key text,
    dedupe_key text,
    supersede_key text,
    channels jsonb NOT NULL DEFAULT '[]',
    attempt bigint NOT NULL,
    max_attempts bigint NOT NULL,
    priority integer NOT NULL,
    scheduled_at bigint NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    claimed_at bigint,
    started_at bigint,
    finished_at bigint,
    cancel_requested_at bigint,
    lease_owner text,
    lease_token text,
    lease_expires_at bigint,
    last_heartbeat_at bigint,
    retry_scheduled_at bigint,
    stale_at bigint,
    stale_reason text,
    last_step_seq bigint NOT NULL DEFAULT 0,
    revision bigint NOT NULL,
    CONSTRAINT {pkey} PRIMARY KEY (id)
) WITH (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.05);

CREATE INDEX IF NOT EXISTS {claim_idx} ON {tasks} (priority DESC, scheduled_at, id)
    WHERE status = 'queued';
CREATE UNIQUE INDEX IF NOT EXISTS {dedupe_key} ON {tasks} (kind, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND {open} AND cancel_requested_at IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS {concurrency_key} ON {tasks} (concurrency_key)
    WHERE concurrency_key IS NOT NULL AND {active};
CREATE INDEX IF NOT EXISTS {supersede_idx} ON {tasks} (kind, supersede_key)
    WHERE supersede_key IS NOT NULL AND {open};
CREATE INDEX IF NOT EXISTS {active_idx} ON {tasks} (kind) WHERE {active};
-- The creation order is a table of its own since version 3 (which drops the index that
-- versions 1 and 2 had here).
CREATE INDEX IF NOT EXISTS {finished_idx} ON {tasks} (kind, status, finished_at)
    WHERE finished_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS {steps} (
    task_id text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    id text NOT NULL,
    attempt bigint NOT NULL,
    kind text NOT NULL,
    level text NOT NULL,
    message text NOT NULL,
    meta json,
    percent double precision,
    created_at bigint NOT NULL,
    CONSTRAINT {steps_pkey} PRIMARY KEY (task_id, seq)
);

CREATE TABLE IF NOT EXISTS {changes} (
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq bigint GENERATED ALWAYS AS IDENTITY (CACHE 100),
    task_id text NOT NULL,
    revision bigint NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    at bigint NOT NULL,
    CONSTRAINT {changes_pkey} PRIMARY KEY (xid, seq)
);
CREATE INDEX IF NOT EXISTS {changes_at_idx} ON {changes} USING brin (at);

CREATE TABLE IF NOT EXISTS {state} (
    id integer PRIMARY KEY CHECK (id = 1),
    pruned_xid xid8 NOT NULL,
    pruned_seq bigint NOT NULL
);
INSERT INTO {state} (id, pruned_xid, pruned_seq) VALUES (1, '0', 0) ON CONFLICT (id) DO NOTHING;

CREATE OR REPLACE FUNCTION {log_insert}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO {changes} (task_id, revision, at) SELECT id, revision, updated_at FROM new_rows;
    RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION {log_update}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO {changes} (task_id, revision, at) SELECT id, revision, updated_at FROM new_rows;
    RETURN NULL;
END
$fn$;
DROP TRIGGER IF EXISTS {trg_insert} ON {tasks};
CREATE TRIGGER {trg_insert} AFTER INSERT ON {tasks}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {log_insert}();
DROP TRIGGER IF EXISTS {trg_update} ON {tasks};
CREATE TRIGGER {trg_update} AFTER UPDATE ON {tasks}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {log_update}();
"#,
        pkey = n.local("tasks_pkey"),
        claim_idx = n.local("tasks_claim_idx"),
        dedupe_key = n.local("tasks_dedupe_key"),
        concurrency_key = n.local("tasks_concurrency_key"),
        supersede_idx = n.local("tasks_supersede_idx"),
        active_idx = n.local("tasks_active_idx"),
        finished_idx = n.local("tasks_finished_idx"),
        steps_pkey = n.local("steps_pkey"),
        changes_pkey = n.local("changes_pkey"),
        changes_at_idx = n.local("changes_at_idx"),
    )
}

/// Version 2: the change feed logs one row per writing statement, holding the ids and new
/// revisions of every task the statement wrote (`task_ids`, `revisions`), instead of one row
/// per task. A batch of a thousand tasks is then one row and one index entry in the feed, not
/// a thousand: logging was a fifth of the cost of a batched write. Rows written before the
/// upgrade (one task each, in `task_id` and `revision`) stay readable.
fn migration_2(n: &Names) -> String {
    let changes = &n.changes;
    let log_insert = n.qualified("tasks_log_insert");
    let log_update = n.qualified("tasks_log_update");
    let log = log_changes_sql(changes);
    format!(
        r#"
ALTER TABLE {changes} ALTER COLUMN task_id DROP NOT NULL, ALTER COLUMN revision DROP NOT NULL,
    ADD COLUMN IF NOT EXISTS task_ids text[], ADD COLUMN IF NOT EXISTS revisions bigint[];
CREATE OR REPLACE FUNCTION {log_insert}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    {log}
    RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION {log_update}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    {log}
    RETURN NULL;
END
$fn$;
"#
    )
}

/// The statement of the insert and update triggers (since version 2): one change-feed row for
/// the rows of `new_rows`, none when it is empty.
fn log_changes_sql(changes: &str) -> String {
    // Both aggregates read the rows in the same order, so the arrays pair up.
    format!(
        "INSERT INTO {changes} (task_ids, revisions, at) \
         SELECT array_agg(id), array_agg(revision), max(updated_at) FROM new_rows \
         HAVING count(*) > 0;"
    )
}

/// Version 3: the creation order (the default list order) moves from an index on the tasks
/// table to a table of its own, `<prefix>created_order (at, task_id)`, written once per task
/// by the insert trigger and cleared by a delete trigger.
///
/// A claim or a finish changes `status`, which every partial index tests, so PostgreSQL cannot
/// make it a heap-only update and adds an entry for the new row version to every index whose
/// predicate holds; `(created_at, id)` holds for every row, so that index took an entry at each
/// claim and each finish while its key never changed: a sixth of the server's CPU per task of
/// a batched claim and finish, measured by dropping it. The table beside it takes one entry per
/// task, at enqueue; with it, the claim and finish cost about a tenth less.
///
/// The table is locked first, in the mode `DROP INDEX` takes (taking a weaker lock first and
/// upgrading it could deadlock with a writer that read before writing): writers of an older
/// version wait, so none of their rows misses the copy or the new trigger. The copy runs only
/// while the old index exists, so running the schema text again copies nothing; it skips rows
/// already there (an older schema text run on this version brings the index back).
fn migration_3(n: &Names) -> String {
    let (tasks, changes, created) = (&n.tasks, &n.changes, &n.created_order);
    let log_insert = n.qualified("tasks_log_insert");
    let log_delete = n.qualified("tasks_log_delete");
    let trg_delete = n.local("tasks_log_delete");
    let created_idx = format!("{}.{}", n.schema_q, n.local("tasks_created_idx"));
    let created_pkey = n.local("created_order_pkey");
    let log = log_changes_sql(changes);
    format!(
        r#"
LOCK TABLE {tasks} IN ACCESS EXCLUSIVE MODE;
CREATE TABLE IF NOT EXISTS {created} (
    at bigint NOT NULL,
    task_id text COLLATE "C" NOT NULL,
    CONSTRAINT {created_pkey} PRIMARY KEY (at, task_id)
);
DO $do$
BEGIN
    IF to_regclass('{created_idx}') IS NOT NULL THEN
        INSERT INTO {created} (at, task_id) SELECT created_at, id FROM {tasks}
            ON CONFLICT DO NOTHING;
        DROP INDEX {created_idx};
    END IF;
END
$do$;
CREATE OR REPLACE FUNCTION {log_insert}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    {log}
    INSERT INTO {created} (at, task_id) SELECT created_at, id FROM new_rows;
    RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION {log_delete}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    DELETE FROM {created} AS c USING old_rows AS o WHERE c.at = o.created_at AND c.task_id = o.id;
    RETURN NULL;
END
$fn$;
DROP TRIGGER IF EXISTS {trg_delete} ON {tasks};
CREATE TRIGGER {trg_delete} AFTER DELETE ON {tasks}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {log_delete}();
"#
    )
}

/// The statement creating the version table.
fn version_table_sql(n: &Names) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (version integer PRIMARY KEY, description text NOT NULL, \
         applied_at timestamptz NOT NULL DEFAULT now());",
        n.schema_version
    )
}

/// The statement taking the schema lock for the rest of the transaction.
fn lock_sql(n: &Names) -> String {
    // The scope is a validated identifier pair, so it can sit in a literal.
    format!("SELECT pg_advisory_xact_lock({LOCK_SCHEMA}, hashtext('{}'));", n.lock_scope())
}

fn record_version_sql(n: &Names, migration: &Migration) -> String {
    format!(
        "INSERT INTO {} (version, description) VALUES ({}, '{}') ON CONFLICT (version) DO NOTHING;",
        n.schema_version, migration.version, migration.description
    )
}

/// The whole schema as one SQL script: what [`prepare_schema`] applies, in a transaction
/// holding the same advisory lock. It can be run again safely.
///
/// # Errors
///
/// [`PostgresError::InvalidIdentifier`] for a bad schema or prefix.
pub fn schema_sql(options: &PostgresStoreOptions) -> Result<String, PostgresError> {
    let names = options.names()?;
    let mut sql = String::from("BEGIN ISOLATION LEVEL READ COMMITTED;\n");
    sql.push_str(&lock_sql(&names));
    sql.push_str(&format!("\nCREATE SCHEMA IF NOT EXISTS {};\n", names.schema_q));
    sql.push_str(&version_table_sql(&names));
    for migration in MIGRATIONS {
        sql.push_str(&(migration.sql)(&names));
        sql.push_str(&record_version_sql(&names, migration));
        sql.push('\n');
    }
    sql.push_str("COMMIT;\n");
    Ok(sql)
}

/// Creates or upgrades the schema, tables, indexes and triggers of the store.
///
/// Idempotent, and safe when several processes run it at the same moment: it holds a
/// transaction-scoped advisory lock for the store's schema and prefix, reads the applied
/// version, and applies only the migrations above it, all in one transaction.
///
/// # Errors
///
/// [`PostgresError::InvalidIdentifier`] for a bad schema or prefix,
/// [`PostgresError::Unreachable`] when the server cannot be reached,
/// [`PostgresError::Schema`] when the database holds a newer schema than this code knows.
pub fn prepare_schema(options: &PostgresStoreOptions) -> Result<(), PostgresError> {
    let names = options.names()?;
    let endpoint = options.endpoint();
    let password = options.password();
    let mut client = options
        .config
        .connect(NoTls)
        .map_err(|err| PostgresError::unreachable(&endpoint, err, password))?;
    let result = apply(&mut client, &names);
    result.map_err(|err| match err {
        Applied::Driver(err) => PostgresError::from_driver(&endpoint, err, password),
        Applied::Newer(found) => PostgresError::Schema {
            message: format!(
                "schema {} holds version {found} of the task tables, newer than this code's {SCHEMA_VERSION}",
                names.schema
            ),
        },
    })
}

enum Applied {
    Driver(postgres::Error),
    Newer(i32),
}

impl From<postgres::Error> for Applied {
    fn from(err: postgres::Error) -> Self {
        Applied::Driver(err)
    }
}

fn apply(client: &mut Client, names: &Names) -> Result<(), Applied> {
    // Read committed whatever the database's default: each statement then sees what the
    // processes that held the lock before committed (a migration's copy included), not a
    // snapshot taken before the lock was granted.
    let mut tx =
        client.build_transaction().isolation_level(IsolationLevel::ReadCommitted).start()?;
    tx.batch_execute(&lock_sql(names))?;
    let exists = tx.query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&names.schema])?;
    if exists.is_none() {
        // Only create when missing: CREATE SCHEMA needs a privilege the store's user may lack
        // on a database where a DBA created the schema for it.
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {};", names.schema_q))?;
    }
    tx.batch_execute(&version_table_sql(names))?;
    let row = tx.query_one(
        &format!("SELECT coalesce(max(version), 0) FROM {}", names.schema_version),
        &[],
    )?;
    let current: i32 = row.get(0);
    if current > SCHEMA_VERSION {
        return Err(Applied::Newer(current));
    }
    for migration in MIGRATIONS.iter().filter(|migration| migration.version > current) {
        tx.batch_execute(&(migration.sql)(names))?;
        tx.batch_execute(&record_version_sql(names, migration))?;
    }
    tx.commit()?;
    Ok(())
}

/// Checks that the schema is there at the version this code uses.
pub(crate) fn check_version(client: &mut Session, names: &Names) -> Result<(), CheckError> {
    let sql = format!("SELECT coalesce(max(version), 0) FROM {}", names.schema_version);
    let rows = client.prepare(&sql).and_then(|statement| client.query(&statement, &[]));
    let version: i32 = match rows {
        Ok(rows) => rows.first().map_or(0, |row| row.get(0)),
        // 42P01: undefined table, 3F000: undefined schema.
        Err(err) if matches!(sqlstate(&err), Some("42P01" | "3F000")) => 0,
        Err(err) => return Err(CheckError::Driver(err)),
    };
    match version {
        v if v == SCHEMA_VERSION => Ok(()),
        0 => Err(CheckError::Schema(format!(
            "no task tables in schema {} with prefix {}: run prepare_schema first",
            names.schema, names.prefix
        ))),
        v if v < SCHEMA_VERSION => Err(CheckError::Schema(format!(
            "schema {} holds version {v} of the task tables, older than this code's {SCHEMA_VERSION}: run prepare_schema",
            names.schema
        ))),
        v => Err(CheckError::Schema(format!(
            "schema {} holds version {v} of the task tables, newer than this code's {SCHEMA_VERSION}",
            names.schema
        ))),
    }
}

/// Why [`check_version`] failed.
pub(crate) enum CheckError {
    Driver(postgres::Error),
    Schema(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_sql_quotes_every_name() {
        let options = PostgresStoreOptions::from_url("postgres://localhost/x")
            .expect("valid")
            .schema("app")
            .table_prefix("jobs_");
        let sql = schema_sql(&options).expect("valid names");
        assert!(sql.contains("\"app\".\"jobs_tasks\""));
        assert!(sql.contains("CREATE UNIQUE INDEX IF NOT EXISTS \"jobs_tasks_dedupe_key\""));
        assert!(!sql.contains(" app."), "every use of the schema is quoted");
    }

    #[test]
    fn schema_sql_refuses_bad_names() {
        let options = PostgresStoreOptions::from_url("postgres://localhost/x")
            .expect("valid")
            .schema("app\"; DROP TABLE x; --");
        assert!(schema_sql(&options).is_err());
    }
}
