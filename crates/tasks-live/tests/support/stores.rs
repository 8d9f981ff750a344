//! The stores the tests run on: the in-memory reference, SQLite on a temp file, and
//! PostgreSQL from the store crate's throwaway-cluster harness (skipped loudly without one,
//! a failure under `CI=true`).

#![allow(unreachable_pub)]

use std::path::Path;
use std::sync::Arc;

use tasks_core::TaskStore;
use tasks_store_postgres::testing::SchemaGuard;
use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};

/// A store and whatever must live as long as it.
pub struct TestStore {
    pub store: Arc<dyn TaskStore>,
    pub name: &'static str,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<SchemaGuard>,
}

pub fn memory() -> TestStore {
    TestStore {
        store: Arc::new(tasks_testkit::MemoryStore::new()),
        name: "memory",
        _dir: None,
        _schema: None,
    }
}

pub fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_sqlite(&dir.path().join("tasks.sqlite"), None);
    TestStore { store: Arc::new(store), name: "sqlite", _dir: Some(dir), _schema: None }
}

pub fn open_sqlite(path: &Path, change_log_limit: Option<u64>) -> SqliteTaskStore {
    let mut options = SqliteOptions::new(path);
    if let Some(limit) = change_log_limit {
        options = options.change_log_limit(limit);
    }
    SqliteTaskStore::open(options).expect("sqlite store")
}

/// A fresh Postgres schema, or `None` (after the harness's loud message) without a server.
pub fn postgres() -> Option<TestStore> {
    let (store, guard) = tasks_store_postgres::testing::fresh_store()?;
    Some(TestStore { store: Arc::new(store), name: "postgres", _dir: None, _schema: Some(guard) })
}
