//! The spec's driver-generic factory: [`create_task_store`], [`prepare_task_store_schema`] and
//! [`task_store_schema`] (the spec's `createTaskStore`, `prepareTaskStoreSchema` and
//! `createTaskStoreSchema`).

use super::any::AnyTaskStore;
use super::config::{IntoStoreConfig, SchemaTarget};
use super::driver::Driver;
use super::error::StoreFactoryError;

/// What [`prepare_task_store_schema`] left behind.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct PreparedSchema {
    /// The driver.
    pub driver: Driver,
    /// The schema version the store now has.
    pub version: i64,
    /// The version found before, when the driver reports it (SQLite: 0 for a new file).
    pub previous_version: Option<i64>,
}

/// Creates the store a config or URL names: `sqlite:PATH` or `postgres://...`.
///
/// - SQLite opens the file, creating it when missing (its directory must exist), and prepares
///   its schema, as `SqliteTaskStore::open` does.
/// - PostgreSQL connects and checks the schema, which must have been prepared
///   ([`prepare_task_store_schema`], once per deploy or on every boot: it is idempotent).
///
/// Blocks while it opens or connects: call it from a blocking thread in async code.
///
/// # Errors
///
/// [`StoreFactoryError::InvalidUrl`] for a URL that cannot be used,
/// [`StoreFactoryError::DriverDisabled`] when this build leaves the driver out, and the
/// driver's own errors (an unreachable server, a missing directory, a schema problem), whose
/// [`kind`](StoreFactoryError::kind) says which.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # #[cfg(feature = "sqlite")] {
/// let url = format!("sqlite:{}", dir.path().join("tasks.sqlite").display());
/// let store = tasks::create_task_store(&url)?;
/// assert_eq!(store.driver(), Some(tasks::Driver::Sqlite));
/// # }
/// # Ok(())
/// # }
/// ```
pub fn create_task_store(config: impl IntoStoreConfig) -> Result<AnyTaskStore, StoreFactoryError> {
    let config = config.into_store_config()?;
    match config {
        #[cfg(feature = "sqlite")]
        super::StoreConfig::Sqlite(config) => {
            let options = tasks_store_sqlite::SqliteOptions::new(config.path);
            Ok(tasks_store_sqlite::SqliteTaskStore::open(options)?.into())
        }
        #[cfg(feature = "postgres")]
        super::StoreConfig::Postgres(config) => {
            let options = postgres_options(&config)?;
            Ok(tasks_store_postgres::PostgresTaskStore::connect(options)?.into())
        }
        #[allow(unreachable_patterns)]
        other => Err(disabled(other.driver())),
    }
}

/// Creates or upgrades the schema of the store a config or URL names. Idempotent and safe on
/// every boot, also from several processes at once.
///
/// Blocks while it connects: call it from a blocking thread in async code.
///
/// # Errors
///
/// As [`create_task_store`]; a database holding a newer schema than this code is refused
/// ([`StoreFactoryErrorKind::Schema`](super::StoreFactoryErrorKind::Schema)).
pub fn prepare_task_store_schema(
    config: impl IntoStoreConfig,
) -> Result<PreparedSchema, StoreFactoryError> {
    let config = config.into_store_config()?;
    match config {
        #[cfg(feature = "sqlite")]
        super::StoreConfig::Sqlite(config) => {
            let options = tasks_store_sqlite::SqliteOptions::new(config.path);
            let report = tasks_store_sqlite::prepare_schema(&options)?;
            Ok(PreparedSchema {
                driver: Driver::Sqlite,
                version: report.version,
                previous_version: Some(report.previous_version),
            })
        }
        #[cfg(feature = "postgres")]
        super::StoreConfig::Postgres(config) => {
            tasks_store_postgres::prepare_schema(&postgres_options(&config)?)?;
            Ok(PreparedSchema {
                driver: Driver::Postgres,
                version: i64::from(tasks_store_postgres::SCHEMA_VERSION),
                previous_version: None,
            })
        }
        #[allow(unreachable_patterns)]
        other => Err(disabled(other.driver())),
    }
}

/// The SQL script that creates a store's schema, for a DBA or a migration tool. Needs no
/// database: pass a [`Driver`], a [`SchemaTarget`] (PostgreSQL schema and table prefix) or a
/// `&StoreConfig`.
///
/// # Errors
///
/// [`StoreFactoryError::DriverDisabled`] when this build leaves the driver out;
/// [`StoreFactoryError::UnsupportedOption`] for a schema or prefix given to SQLite; an invalid
/// PostgreSQL schema or prefix
/// ([`StoreFactoryErrorKind::InvalidOptions`](super::StoreFactoryErrorKind::InvalidOptions)).
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// assert!(tasks::task_store_schema(tasks::Driver::Sqlite)?.contains("CREATE TABLE"));
/// # Ok::<(), tasks::StoreFactoryError>(())
/// ```
pub fn task_store_schema(target: impl Into<SchemaTarget>) -> Result<String, StoreFactoryError> {
    let target = target.into();
    match target.driver {
        #[cfg(feature = "sqlite")]
        Driver::Sqlite => {
            if target.schema.is_some() {
                return Err(super::config::unsupported(Driver::Sqlite, "schema"));
            }
            if target.table_prefix.is_some() {
                return Err(super::config::unsupported(Driver::Sqlite, "table prefix"));
            }
            Ok(tasks_store_sqlite::schema_sql())
        }
        #[cfg(feature = "postgres")]
        Driver::Postgres => {
            let options = layout(
                tasks_store_postgres::PostgresStoreOptions::new(postgres::Config::new()),
                target.schema.as_deref(),
                target.table_prefix.as_deref(),
            );
            Ok(tasks_store_postgres::schema_sql(&options)?)
        }
        #[allow(unreachable_patterns)]
        other => Err(disabled(other)),
    }
}

/// The refusal for a driver this build leaves out: each factory's fallback arm, which only a
/// build without that driver's feature reaches.
fn disabled(driver: Driver) -> StoreFactoryError {
    StoreFactoryError::DriverDisabled { driver, feature: driver.feature() }
}

#[cfg(feature = "postgres")]
fn postgres_options(
    config: &super::config::PostgresConfig,
) -> Result<tasks_store_postgres::PostgresStoreOptions, StoreFactoryError> {
    let options = tasks_store_postgres::PostgresStoreOptions::from_url(&config.url)?;
    Ok(layout(options, config.schema.as_deref(), config.table_prefix.as_deref()))
}

#[cfg(feature = "postgres")]
fn layout(
    mut options: tasks_store_postgres::PostgresStoreOptions,
    schema: Option<&str>,
    prefix: Option<&str>,
) -> tasks_store_postgres::PostgresStoreOptions {
    if let Some(schema) = schema {
        options = options.schema(schema);
    }
    if let Some(prefix) = prefix {
        options = options.table_prefix(prefix);
    }
    options
}
