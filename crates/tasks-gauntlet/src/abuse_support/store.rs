//! [`StoreUnderTest`]: a fresh store for one scenario run (an SQLite file in a temp dir, or a
//! fresh schema on the shared PostgreSQL test server), from which a scenario opens as many
//! independent handles as it plays processes, and an independent [`Probe`].

use std::path::PathBuf;
use std::sync::Arc;

use tasks_core::TaskStore;
use tasks_store_postgres::testing;
use tasks_store_postgres::{PoolOptions, PostgresStoreOptions, PostgresTaskStore, prepare_schema};
use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};

use super::probe::Probe;
use crate::{Ctx, StoreKind, Violation};

/// Where the store lives.
enum Location {
    Sqlite { path: PathBuf, _dir: tempfile::TempDir },
    Postgres { url: String, options: Box<PostgresStoreOptions>, _guard: DropSchema },
}

/// Drops a scenario's schema on an external server (a throwaway cluster goes whole).
struct DropSchema {
    url: Option<String>,
    schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let Some(url) = &self.url else { return };
        if let Ok(mut client) = postgres::Client::connect(url, postgres::NoTls) {
            let drop = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema);
            let _ = client.batch_execute(&drop);
        }
    }
}

/// A fresh store for one scenario run; dropping it removes the file (or the schema, on an
/// external server).
pub(crate) struct StoreUnderTest {
    location: Location,
}

impl StoreUnderTest {
    /// A fresh, prepared store of the kind `ctx` names.
    pub(crate) fn new(ctx: &Ctx) -> Result<Self, Violation> {
        Self::of(ctx.store)
    }

    /// A fresh, prepared store of `kind`.
    pub(crate) fn of(kind: StoreKind) -> Result<Self, Violation> {
        let location = match kind {
            StoreKind::Sqlite => {
                let dir = tempfile::Builder::new().prefix("gauntlet-abuse-").tempdir()?;
                let path = dir.path().join("tasks.db");
                tasks_store_sqlite::prepare_schema(&SqliteOptions::new(&path))?;
                Location::Sqlite { path, _dir: dir }
            }
            StoreKind::Postgres => {
                let Some(server) = testing::server() else {
                    return Err(Violation(
                        "no PostgreSQL server: set TASKS_POSTGRES_URL or install the server \
                         binaries (pg_ctl, initdb)"
                            .into(),
                    ));
                };
                let schema = testing::random_schema();
                let options = testing::options_for(server.url(), &schema);
                let external = server.is_external().then(|| server.url().to_owned());
                let guard = DropSchema { url: external, schema };
                prepare_schema(&options)?;
                Location::Postgres {
                    url: server.url().to_owned(),
                    options: Box::new(options),
                    _guard: guard,
                }
            }
        };
        Ok(StoreUnderTest { location })
    }

    /// A new handle on the store, with connections of its own, as another process would open
    /// it. `connections` sizes a PostgreSQL pool (SQLite has one writer per handle).
    pub(crate) fn open(&self, connections: u32) -> Result<Arc<dyn TaskStore>, Violation> {
        Ok(match &self.location {
            Location::Sqlite { path, .. } => {
                Arc::new(SqliteTaskStore::open(SqliteOptions::new(path))?) as Arc<dyn TaskStore>
            }
            Location::Postgres { options, .. } => {
                let mut pool = PoolOptions::default();
                pool.max_size = connections.max(1);
                pool.relaxed_max_size = 2;
                pool.min_idle = Some(0);
                Arc::new(PostgresTaskStore::connect((**options).clone().pool(pool))?)
            }
        })
    }

    /// A probe reading the store's tables directly, with a connection of its own.
    pub(crate) fn probe(&self) -> Result<Probe, Violation> {
        match &self.location {
            Location::Sqlite { path, .. } => Probe::sqlite(path),
            Location::Postgres { url, options, .. } => {
                Probe::postgres(url, &options.schema, &options.table_prefix)
            }
        }
    }

    /// The PostgreSQL server and options, for the scenarios that only run there.
    pub(crate) fn postgres(&self) -> Option<(&str, &PostgresStoreOptions)> {
        match &self.location {
            Location::Sqlite { .. } => None,
            Location::Postgres { url, options, .. } => Some((url, options)),
        }
    }
}
