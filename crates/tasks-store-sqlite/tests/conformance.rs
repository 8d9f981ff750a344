//! The conformance suite and the model-based test of `tasks-testkit`, each case on a fresh
//! database file in its own temporary directory.

use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};
use tasks_testkit::WithGuard;

fn fresh() -> WithGuard<tempfile::TempDir, SqliteTaskStore> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteTaskStore::open(SqliteOptions::new(dir.path().join("tasks.db")))
        .expect("a new database opens");
    WithGuard { guard: dir, store }
}

tasks_testkit::store_conformance!(fresh);
tasks_testkit::model_test!(fresh);
