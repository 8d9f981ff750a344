//! `tasks worker`, `tasks enqueue`, `tasks watch`, `tasks cancel` and `tasks show` in separate
//! processes sharing one PostgreSQL database (a throwaway cluster, or `TASKS_POSTGRES_URL`).

mod support;

use support::Scratch;
use support::scenario::worker_enqueue_watch;

#[test]
fn worker_enqueue_and_watch_share_a_postgres_database() {
    // A fresh schema of the test server (dropped afterwards on an external server); the
    // harness panics under CI=true when there is no server at all.
    let Some((store, _guard)) = tasks_store_postgres::testing::fresh_store() else { return };
    let schema = store.options().schema.clone();
    drop(store);
    let url = tasks_store_postgres::testing::server().expect("a server").url().to_owned();
    let scratch = Scratch::new();
    let db = vec!["--db".to_owned(), url, "--db-schema".to_owned(), schema];
    worker_enqueue_watch(&scratch, &db);
}

#[test]
fn a_schema_that_was_never_prepared_says_to_migrate() {
    // The guard's schema (dropped afterwards on an external server) holds tables under the
    // default prefix only: under another prefix the store has not been prepared.
    let Some((store, _guard)) = tasks_store_postgres::testing::fresh_store() else { return };
    let schema = store.options().schema.clone();
    drop(store);
    let url = tasks_store_postgres::testing::server().expect("a server").url().to_owned();
    let scratch = Scratch::new();
    let db = ["--db", url.as_str(), "--db-schema", schema.as_str(), "--db-prefix", "fresh_"];
    let with = |command: &[&'static str]| -> Vec<&str> {
        command.iter().copied().chain(db.iter().copied()).collect()
    };
    scratch.run(&with(&["ls"])).assert_failure(1, "run `tasks migrate` first");
    // `migrate` creates it; then the store opens.
    scratch.run(&with(&["migrate"])).assert_success(&["migrate"]);
    assert_eq!(scratch.json(&with(&["ls", "--json"])), serde_json::json!([]));
}
