//! Every host scenario on every store: the reference memory store, SQLite on a temporary
//! file, and PostgreSQL on a fresh schema of the test server (which skips itself, saying so,
//! when no server can be had, except under `CI=true`).

mod scenarios;
mod support;

mod memory {
    use tasks_testkit::MemoryStore;

    use crate::host_scenarios;
    use crate::support::Fixture;

    host_scenarios!(Some(Fixture::plain(MemoryStore::new())));
}

mod sqlite {
    use std::sync::Arc;

    use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};

    use crate::host_scenarios;
    use crate::support::Fixture;

    fn open() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteTaskStore::open(SqliteOptions::new(dir.path().join("tasks.sqlite")))
            .expect("the store opens");
        Fixture { store: Arc::new(store), guard: Box::new(dir) }
    }

    host_scenarios!(Some(open()));
}

mod postgres {
    use std::sync::Arc;

    use crate::host_scenarios;
    use crate::support::Fixture;

    fn open() -> Option<Fixture> {
        let (store, guard) = tasks_store_postgres::testing::fresh_store()?;
        Some(Fixture { store: Arc::new(store), guard: Box::new(guard) })
    }

    host_scenarios!(open());
}
