//! Schema preparation: idempotent, safe when many processes run it at once, versioned; the
//! text of `schema_sql` is the same schema; connecting checks the version.

use std::thread;

use postgres::NoTls;
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
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i32>(1)), (1, SCHEMA_VERSION));
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
