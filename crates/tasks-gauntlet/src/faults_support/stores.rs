//! Where a scenario's tasks live: a [`StoreSpec`] (an SQLite file, or a schema on a PostgreSQL
//! server) that every process of the scenario opens, the [`StoreFixture`] that makes a fresh
//! one for a scenario and cleans it up, and PostgreSQL clusters of a scenario's own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tasks_core::TaskStore;
use tasks_store_postgres::testing::{self, LocalCluster};
use tasks_store_postgres::{PoolOptions, PostgresStoreOptions, PostgresTaskStore, prepare_schema};
use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};

use crate::{StoreKind, Violation};

/// A store every process of a scenario can open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreSpec {
    /// An SQLite file.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A schema on a PostgreSQL server.
    Postgres {
        /// The server (`postgres://user@host:port/db`).
        url: String,
        /// The schema, prepared.
        schema: String,
    },
}

/// Pool sizes for a PostgreSQL store: (main, relaxed). Small, since many processes share one
/// test server.
pub const WORKER_POOL: (u32, u32) = (4, 2);

/// A store opened by one process.
#[derive(Clone)]
pub enum OpenStore {
    /// An SQLite store.
    Sqlite(Arc<SqliteTaskStore>),
    /// A PostgreSQL store (which can also listen for wake-ups).
    Postgres(Arc<PostgresTaskStore>),
}

impl std::fmt::Debug for OpenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenStore::Sqlite(_) => f.write_str("OpenStore::Sqlite"),
            OpenStore::Postgres(store) => write!(f, "OpenStore::Postgres({store:?})"),
        }
    }
}

impl OpenStore {
    /// The store as the host takes it.
    pub fn as_dyn(&self) -> Arc<dyn TaskStore> {
        match self {
            OpenStore::Sqlite(store) => Arc::clone(store) as Arc<dyn TaskStore>,
            OpenStore::Postgres(store) => Arc::clone(store) as Arc<dyn TaskStore>,
        }
    }
}

impl StoreSpec {
    /// Which store this is.
    pub fn kind(&self) -> StoreKind {
        match self {
            StoreSpec::Sqlite { .. } => StoreKind::Sqlite,
            StoreSpec::Postgres { .. } => StoreKind::Postgres,
        }
    }

    /// The worker arguments naming this store (`--sqlite PATH` or `--postgres URL --schema S`).
    pub fn to_args(&self) -> Vec<String> {
        match self {
            StoreSpec::Sqlite { path } => vec!["--sqlite".into(), path.display().to_string()],
            StoreSpec::Postgres { url, schema } => {
                vec!["--postgres".into(), url.clone(), "--schema".into(), schema.clone()]
            }
        }
    }

    /// The same store reached through another URL (a proxy in front of the server).
    #[must_use]
    pub fn through(&self, url: &str) -> Self {
        match self {
            StoreSpec::Sqlite { .. } => self.clone(),
            StoreSpec::Postgres { schema, .. } => {
                StoreSpec::Postgres { url: url.to_owned(), schema: schema.clone() }
            }
        }
    }

    /// PostgreSQL options for this store with pools of `pool` (main, relaxed) connections.
    ///
    /// # Errors
    ///
    /// The store is not PostgreSQL, or the URL does not parse.
    pub fn postgres_options(&self, pool: (u32, u32)) -> Result<PostgresStoreOptions, Violation> {
        let StoreSpec::Postgres { url, schema } = self else {
            return Err(Violation("PostgreSQL options asked of an SQLite store".into()));
        };
        let mut options = PoolOptions::default();
        options.max_size = pool.0;
        options.relaxed_max_size = pool.1;
        options.min_idle = Some(0);
        // Short: while the server is down, every call waits this long for a session.
        options.connection_timeout = Duration::from_secs(2);
        Ok(PostgresStoreOptions::from_url(url)?.schema(schema.clone()).pool(options))
    }

    /// Opens the store (the schema must have been prepared), with PostgreSQL pools of `pool`.
    ///
    /// # Errors
    ///
    /// The store cannot be opened.
    pub fn open(&self, pool: (u32, u32)) -> Result<OpenStore, Violation> {
        match self {
            StoreSpec::Sqlite { path } => {
                Ok(OpenStore::Sqlite(Arc::new(SqliteTaskStore::open(SqliteOptions::new(path))?)))
            }
            StoreSpec::Postgres { .. } => Ok(OpenStore::Postgres(Arc::new(
                PostgresTaskStore::connect(self.postgres_options(pool)?)?,
            ))),
        }
    }
}

/// Set to keep each scenario's directory (history logs, worker stderr, SQLite file) for a
/// post-mortem; its path is printed.
pub const KEEP_ENV: &str = "TASKS_GAUNTLET_KEEP";

/// A directory for one scenario's files, kept when [`KEEP_ENV`] is set.
fn scenario_dir() -> Result<tempfile::TempDir, Violation> {
    let mut dir = tempfile::Builder::new().prefix("tasks-gauntlet-").tempdir()?;
    if std::env::var_os(KEEP_ENV).is_some() {
        dir.disable_cleanup(true);
        eprintln!("tasks-gauntlet: keeping {}", dir.path().display());
    }
    Ok(dir)
}

/// A fresh store for one scenario: a temporary SQLite file, or a fresh schema on the shared
/// PostgreSQL server of this process (dropped afterwards on an external server).
#[derive(Debug)]
pub struct StoreFixture {
    /// How to reach it.
    pub spec: StoreSpec,
    /// Holds the history logs and the SQLite file.
    pub dir: tempfile::TempDir,
    /// On an external server the schema outlives the process unless dropped; a throwaway
    /// cluster goes whole.
    drop_schema: bool,
}

impl Drop for StoreFixture {
    fn drop(&mut self) {
        let StoreSpec::Postgres { url, schema } = &self.spec else { return };
        if !self.drop_schema {
            return;
        }
        if let Ok(mut client) = postgres::Client::connect(url, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
        }
    }
}

impl StoreFixture {
    /// A fresh store of `kind`.
    ///
    /// # Errors
    ///
    /// No PostgreSQL server could be found or started (said precisely), or the store could not
    /// be prepared.
    pub fn new(kind: StoreKind) -> Result<Self, Violation> {
        let dir = scenario_dir()?;
        match kind {
            StoreKind::Sqlite => {
                let path = dir.path().join("tasks.sqlite");
                tasks_store_sqlite::prepare_schema(&SqliteOptions::new(&path))?;
                Ok(StoreFixture { spec: StoreSpec::Sqlite { path }, dir, drop_schema: false })
            }
            StoreKind::Postgres => {
                let server = postgres_server()?;
                let schema = testing::random_schema();
                let spec = StoreSpec::Postgres { url: server.url().to_owned(), schema };
                prepare_schema(&spec.postgres_options(WORKER_POOL)?)?;
                let drop_schema = server.is_external();
                Ok(StoreFixture { spec, dir, drop_schema })
            }
        }
    }

    /// A fresh schema on a cluster the scenario owns (it stops and restarts it, or loads it on
    /// purpose), with a directory for the logs.
    ///
    /// # Errors
    ///
    /// As [`StoreFixture::new`].
    pub fn on_cluster(cluster: &LocalCluster) -> Result<Self, Violation> {
        let dir = scenario_dir()?;
        let spec = StoreSpec::Postgres { url: cluster.url(), schema: "gauntlet".into() };
        prepare_schema(&spec.postgres_options(WORKER_POOL)?)?;
        Ok(StoreFixture { spec, dir, drop_schema: false })
    }

    /// A path in the scenario's directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// The shared PostgreSQL server of this process.
///
/// # Errors
///
/// A precise message when there is none (no `TASKS_POSTGRES_URL`, no local binaries).
pub fn postgres_server() -> Result<&'static testing::TestServer, Violation> {
    testing::server().ok_or_else(|| {
        Violation(
            "no PostgreSQL server: TASKS_POSTGRES_URL is not set and no local cluster could be \
             started from the installed binaries (initdb, pg_ctl); see the message above"
                .into(),
        )
    })
}

/// Starts a PostgreSQL cluster of the scenario's own, with durable settings (the point of
/// the scenarios that use one is that acknowledged commits survive a crash of the server).
///
/// # Errors
///
/// A precise message when the local server binaries are missing or fail.
pub fn own_cluster(settings: &[(&str, &str)]) -> Result<LocalCluster, Violation> {
    LocalCluster::start(settings).map_err(|why| {
        Violation(format!(
            "this scenario needs a PostgreSQL cluster of its own (it stops, restarts or loads \
             it), and none could be started from the local server binaries: {why}"
        ))
    })
}
