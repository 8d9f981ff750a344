//! Schema preparation: idempotent, safe when many processes run it at once, versioned; the
//! text of `schema_sql` is the same schema; connecting checks the version; a version-1 schema
//! is upgraded in place, its change feed still readable and its tasks listed in creation order;
//! the creation order follows every insert and delete.

use std::thread;

use postgres::NoTls;
use serde_json::json;
use std::time::Duration;

use tasks_core::{
    EnqueueOptions, NewTask, RetentionPolicy, TaskFilter, TaskId, TaskListQuery, TaskOrder,
    TaskRecord, TaskStore, Timestamp,
};
use tasks_store_postgres::{
    PostgresErrorKind, PostgresStoreOptions, PostgresTaskStore, SCHEMA_VERSION, prepare_schema,
    schema_sql, testing,
};

fn options() -> Option<PostgresStoreOptions> {
    let server = testing::server()?;
    Some(testing::options_for(server.url(), &testing::random_schema()))
}

/// Runs `prepare_schema` from 8 threads at once; every one must succeed.
fn prepare_in_parallel(options: &PostgresStoreOptions) {
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let options = options.clone();
            thread::spawn(move || prepare_schema(&options))
        })
        .collect();
    for handle in handles {
        handle.join().expect("no panic").expect("every concurrent prepare succeeds");
    }
}

#[test]
fn prepare_is_idempotent_and_safe_in_parallel() {
    let Some(options) = options() else { return };
    prepare_in_parallel(&options);
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

/// A database whose sessions default to repeatable read: every process still applies each
/// migration once, each reading what the one before it committed (the copy of version 3
/// included), not a snapshot taken before it got the lock.
#[test]
fn prepare_is_safe_in_parallel_under_a_repeatable_read_default() {
    let Some(mut options) = options() else { return };
    options.config.options("-c default_transaction_isolation=repeatable\\ read");
    prepare_in_parallel(&options);
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

/// Turns a freshly prepared schema back into version 1: the creation order an index of the
/// tasks table again, the change feed's per-task columns required again, the per-statement
/// ones gone, the triggers logging one row per task.
fn downgrade_to_version_1(client: &mut postgres::Client, schema: &str) {
    let q = |name: &str| format!("\"{schema}\".\"{name}\"");
    let (changes, versions) = (q("tasks_changes"), q("tasks_schema_version"));
    client
        .batch_execute(&format!(
            "DROP TRIGGER tasks_tasks_log_delete ON {tasks}; \
             DROP FUNCTION {delete}(); DROP TABLE {order}; \
             CREATE INDEX tasks_tasks_created_idx ON {tasks} (created_at, id);",
            tasks = q("tasks_tasks"),
            delete = q("tasks_tasks_log_delete"),
            order = q("tasks_created_order"),
        ))
        .expect("back to version 2");
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
    let t1 = t0.saturating_add(Duration::from_millis(1));
    let new: Vec<String> = store
        .enqueue_batch(tasks, t1)
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

    // The rows written before the upgrade keep their place in the creation order.
    let mut expected = vec!["old-1".to_owned(), "old-2".to_owned(), "old-3".to_owned()];
    expected.extend(new);
    assert_eq!(ids_in_creation_order(&store, TaskOrder::CreatedAsc), expected);
}

/// The ids of every task, in a creation order.
fn ids_in_creation_order(store: &PostgresTaskStore, order: TaskOrder) -> Vec<String> {
    let query = TaskListQuery { order, limit: Some(1_000), ..TaskListQuery::all() };
    let tasks: Vec<TaskRecord> = store.list(&query).expect("list");
    tasks.into_iter().map(|task| task.id.to_string()).collect()
}

fn task(kind: &str, n: u32, options: EnqueueOptions) -> NewTask {
    NewTask::new(kind, json!(n)).with_options(options)
}

fn id(text: &str) -> TaskId {
    TaskId::new(text).expect("a valid id")
}

/// Rows in the creation-order table, counted by hand.
fn created_order_rows(client: &mut postgres::Client, schema: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM \"{schema}\".\"tasks_created_order\"");
    client.query_one(sql.as_str(), &[]).expect("count").get(0)
}

#[test]
fn the_creation_order_follows_every_insert_and_delete() {
    let Some(options) = options() else { return };
    prepare_schema(&options).expect("prepare");
    let store = PostgresTaskStore::connect(options.clone()).expect("connect");
    let mut client = options.config.connect(NoTls).expect("connect");
    let t0 = Timestamp::from_millis(1_767_225_600_000);
    let at = |ms: u64| t0.saturating_add(Duration::from_millis(ms));
    // Created out of id order, two at the same time (ties go by id), by single and batch.
    let single = store.enqueue(task("work", 0, EnqueueOptions::new().id(id("m"))), at(5));
    single.expect("enqueue");
    let batch = vec![
        task("work", 1, EnqueueOptions::new().id(id("z"))),
        task("work", 2, EnqueueOptions::new().id(id("a"))),
        task("other", 3, EnqueueOptions::new().id(id("b"))),
    ];
    store.enqueue_batch(batch, at(1)).expect("enqueue_batch");
    // A dedupe hit inserts nothing.
    let keyed = || task("work", 4, EnqueueOptions::new().id(id("k")).dedupe_key("same"));
    store.enqueue(keyed(), at(9)).expect("first");
    let again = task("work", 5, EnqueueOptions::new().dedupe_key("same"));
    assert!(store.enqueue(again, at(10)).expect("second").deduplicated, "a dedupe hit");
    assert_eq!(ids_in_creation_order(&store, TaskOrder::CreatedAsc), ["a", "b", "z", "m", "k"]);
    assert_eq!(ids_in_creation_order(&store, TaskOrder::CreatedDesc), ["k", "m", "z", "b", "a"]);
    let page = TaskListQuery {
        filter: TaskFilter { kinds: vec!["work".to_owned()], ..Default::default() },
        limit: Some(2),
        offset: Some(1),
        order: TaskOrder::CreatedDesc,
    };
    let page: Vec<String> =
        store.list(&page).expect("a page").into_iter().map(|t| t.id.to_string()).collect();
    assert_eq!(page, ["m", "z"], "filters and pages apply to the creation order");
    // A filter on ids reads those tasks alone, in the same order.
    let some = TaskListQuery {
        filter: TaskFilter { task_ids: vec![id("m"), id("a"), id("k")], ..Default::default() },
        ..TaskListQuery::all()
    };
    let some: Vec<String> =
        store.list(&some).expect("by ids").into_iter().map(|t| t.id.to_string()).collect();
    assert_eq!(some, ["k", "m", "a"], "by ids, newest first");
    assert_eq!(created_order_rows(&mut client, &options.schema), 5);

    // Retention deletes finished tasks: their entries go with them.
    store.cancel(&id("a"), None, at(20)).expect("cancel a");
    store.cancel(&id("m"), None, at(20)).expect("cancel m");
    let policy =
        RetentionPolicy { cancelled_ttl: Some(Duration::from_millis(1)), ..Default::default() };
    let report = store.compact(&policy, at(1_000)).expect("compact");
    assert_eq!(report.deleted_tasks, 2, "{report:?}");
    assert_eq!(ids_in_creation_order(&store, TaskOrder::CreatedAsc), ["b", "z", "k"]);
    assert_eq!(created_order_rows(&mut client, &options.schema), 3);
}
