//! Schema preparation: idempotent, safe when many processes run it at once, versioned; the
//! text of `schema_sql` is the same schema; connecting checks the version; a version-1 schema
//! is upgraded in place, its change feed still readable.

use std::thread;

use postgres::NoTls;
use serde_json::json;
use tasks_core::{NewTask, TaskStore, Timestamp};
use tasks_store_postgres::{
    PostgresErrorKind, PostgresStoreOptions, PostgresTaskStore, SCHEMA_VERSION, prepare_schema,
    schema_sql, testing,
};

fn options() -> Option<PostgresStoreOptions> {
    let server = testing::server()?;
    Some(testing::options_for(server.url(), &testing::random_schema()))
}

#[test]
fn prepare_is_idempotent_and_safe_in_parallel() {
    let Some(options) = options() else { return };
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let options = options.clone();
            thread::spawn(move || prepare_schema(&options))
        })
        .collect();
    for handle in handles {
        handle.join().expect("no panic").expect("every concurrent prepare succeeds");
    }
    prepare_schema(&options).expect("and again");
    let mut client = options.config.connect(NoTls).expect("connect");
    let sql = format!(
        "SELECT count(*), max(version) FROM \"{}\".\"tasks_schema_version\"",
        options.schema
    );
    let row = client.query_one(sql.as_str(), &[]).expect("versions");
    // One row per migration.
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, i32>(1)),
        (i64::from(SCHEMA_VERSION), SCHEMA_VERSION)
    );
    PostgresTaskStore::connect(options).expect("connect after prepare");
}

#[test]
fn schema_sql_builds_the_same_schema() {
    let Some(options) = options() else { return };
    let options = options.table_prefix("by_hand_");
    let mut client = options.config.connect(NoTls).expect("connect");
    let text = schema_sql(&options).expect("text");
    client.batch_execute(&text).expect("the text runs as is");
    client.batch_execute(&text).expect("and runs again");
    PostgresTaskStore::connect(options.clone()).expect("a store accepts it");
    prepare_schema(&options).expect("prepare accepts it too");
}

#[test]
fn connect_refuses_a_missing_or_newer_schema() {
    let Some(options) = options() else { return };
    let missing = PostgresTaskStore::connect(options.clone()).expect_err("not prepared");
    assert_eq!(missing.kind(), PostgresErrorKind::Schema);
    prepare_schema(&options).expect("prepare");
    let mut client = options.config.connect(NoTls).expect("connect");
    let sql = format!(
        "INSERT INTO \"{}\".\"tasks_schema_version\" (version, description) VALUES ({}, 'from the future')",
        options.schema,
        SCHEMA_VERSION + 1
    );
    client.batch_execute(&sql).expect("a newer version appears");
    assert_eq!(
        PostgresTaskStore::connect(options.clone()).expect_err("newer").kind(),
        PostgresErrorKind::Schema
    );
    assert_eq!(prepare_schema(&options).expect_err("newer").kind(), PostgresErrorKind::Schema);
}

/// Turns a freshly prepared schema back into version 1: the change feed's per-task columns
/// required again, the per-statement ones gone, the triggers logging one row per task.
fn downgrade_to_version_1(client: &mut postgres::Client, schema: &str) {
    let q = |name: &str| format!("\"{schema}\".\"{name}\"");
    let (changes, versions) = (q("tasks_changes"), q("tasks_schema_version"));
    let per_task = format!(
        "INSERT INTO {changes} (task_id, revision, at) SELECT id, revision, updated_at FROM new_rows;"
    );
    let mut sql = format!(
        "DELETE FROM {versions} WHERE version > 1; DELETE FROM {changes}; \
         ALTER TABLE {changes} DROP COLUMN task_ids, DROP COLUMN revisions, \
             ALTER COLUMN task_id SET NOT NULL, ALTER COLUMN revision SET NOT NULL;"
    );
    for function in ["tasks_tasks_log_insert", "tasks_tasks_log_update"] {
        sql.push_str(&format!(
            "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS \
             $fn$ BEGIN {per_task} RETURN NULL; END $fn$;",
            q(function)
        ));
    }
    client.batch_execute(&sql).expect("back to version 1");
}

#[test]
fn a_version_1_schema_is_upgraded_and_its_feed_stays_readable() {
    let Some(options) = options() else { return };
    prepare_schema(&options).expect("prepare");
    let mut client = options.config.connect(NoTls).expect("connect");
    downgrade_to_version_1(&mut client, &options.schema);
    assert_eq!(
        PostgresTaskStore::connect(options.clone()).expect_err("an older schema").kind(),
        PostgresErrorKind::Schema
    );
    // A version-1 process writes: one feed row per task.
    let t0 = Timestamp::from_millis(1_767_225_600_000);
    let insert = format!(
        "INSERT INTO \"{}\".\"tasks_tasks\" (id, kind, status, input, attempt, max_attempts, \
         priority, scheduled_at, created_at, updated_at, revision) \
         SELECT 'old-' || n, 'work', 'queued', '{{}}', 0, 3, 0, $1, $1, $1, 1 FROM generate_series(1, 3) AS n",
        options.schema
    );
    client.execute(insert.as_str(), &[&t0.as_millis()]).expect("old rows");

    prepare_schema(&options).expect("the upgrade");
    let store = PostgresTaskStore::connect(options).expect("connect after the upgrade");
    let tasks: Vec<NewTask> = (0..3).map(|n| NewTask::new("work", json!(n))).collect();
    let new: Vec<String> = store
        .enqueue_batch(tasks, t0)
        .expect("enqueue")
        .into_iter()
        .map(|outcome| outcome.task.id.to_string())
        .collect();
    // Read in pages of two, so a page ends inside the new row of three.
    let mut cursor = None;
    let mut seen = Vec::new();
    loop {
        let page = store.read_changes(cursor.as_ref(), 2).expect("read_changes");
        if page.changes.is_empty() {
            break;
        }
        seen.extend(page.changes.iter().map(|change| change.task_id.to_string()));
        cursor = Some(page.next);
    }
    let (old, later) = seen.split_at(3);
    assert_eq!(old, ["old-1", "old-2", "old-3"], "the version-1 rows, in order");
    let mut later = later.to_vec();
    later.sort();
    let mut new = new;
    new.sort();
    assert_eq!(later, new, "then the one row of the batch, across two pages");
}
