//! The store a command works on: where it is ([`resolve`]), opening one that exists
//! ([`open_existing`]), and creating or upgrading a schema ([`prepare`]).

use std::path::Path;

use tasks::{AnyTaskStore, Driver, PreparedSchema, StoreConfig, StoreFactoryErrorKind};

use crate::cli::GlobalArgs;
use crate::config::Config;
use crate::error::{CliError, ExitStatus};

/// The store used when neither `--db` nor the config file names one.
pub(crate) const DEFAULT_URL: &str = "sqlite:.data/tasks.sqlite";

/// The directory of the default store, created when a command prepares it.
const DEFAULT_DIR: &str = ".data";

/// Where the store is: `--db`, else the config file's `[store] url` (an SQLite path relative
/// to the file's directory), else [`DEFAULT_URL`]; then the PostgreSQL schema and prefix.
pub(crate) fn resolve(
    global: &GlobalArgs,
    config: Option<&Config>,
) -> Result<StoreConfig, CliError> {
    let section = config.map(|config| &config.file.store);
    let mut store = if let Some(url) = &global.db {
        StoreConfig::parse(url)?
    } else if let Some(config) = config
        && let Some(url) = &config.file.store.url
    {
        from_config_file(config, url)?
    } else {
        StoreConfig::parse(DEFAULT_URL)?
    };
    if let Some(schema) = global.db_schema.as_ref().or(section.and_then(|s| s.schema.as_ref())) {
        store = store.with_schema(schema)?;
    }
    if let Some(prefix) = global.db_prefix.as_ref().or(section.and_then(|s| s.prefix.as_ref())) {
        store = store.with_table_prefix(prefix)?;
    }
    Ok(store)
}

/// The config file's store URL; an SQLite path in it is relative to the file's directory.
fn from_config_file(config: &Config, url: &str) -> Result<StoreConfig, CliError> {
    let parsed = StoreConfig::parse(url).map_err(|err| {
        CliError::from(err).context(format!("{}: [store] url", config.path().display()))
    })?;
    Ok(match parsed.sqlite_path() {
        Some(path) => StoreConfig::sqlite(config.resolve(path)),
        None => parsed,
    })
}

/// Opens a store that exists. An SQLite file that does not is refused (exit status 3) rather
/// than created, so a mistyped path does not quietly make an empty store.
pub(crate) fn open_existing(config: &StoreConfig) -> Result<AnyTaskStore, CliError> {
    if let Some(path) = config.sqlite_path()
        && !path.exists()
    {
        return Err(CliError::new(
            ExitStatus::Unavailable,
            format!(
                "no task database at {}: start `tasks worker` or run `tasks migrate` to create it, or pass --db",
                path.display()
            ),
        ));
    }
    tasks::create_task_store(config).map_err(|err| {
        let schema_problem =
            err.kind() == StoreFactoryErrorKind::Schema && config.driver() == Driver::Postgres;
        let error = CliError::from(err);
        if schema_problem {
            CliError::new(error.status, format!("{}; run `tasks migrate` first", error.message))
        } else {
            error
        }
    })
}

/// Creates or upgrades the schema (creating the default store's directory when needed).
pub(crate) fn prepare(config: &StoreConfig) -> Result<PreparedSchema, CliError> {
    if let Some(path) = config.sqlite_path()
        && path == Path::new(DEFAULT_URL.trim_start_matches("sqlite:"))
    {
        std::fs::create_dir_all(DEFAULT_DIR).map_err(|err| {
            CliError::new(ExitStatus::Unavailable, format!("cannot create {DEFAULT_DIR}/: {err}"))
        })?;
    }
    Ok(tasks::prepare_task_store_schema(config)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(db: Option<&str>) -> GlobalArgs {
        GlobalArgs { db: db.map(str::to_owned), ..GlobalArgs::default() }
    }

    #[test]
    fn the_default_store_is_the_demo_file() {
        let config = resolve(&global(None), None).expect("valid");
        assert_eq!(config.to_string(), DEFAULT_URL);
    }

    #[test]
    fn db_wins_and_layout_applies_to_postgres_only() {
        let mut args = global(Some("postgres://u@h/db"));
        args.db_schema = Some("jobs".into());
        let config = resolve(&args, None).expect("valid");
        assert_eq!(config.to_string(), "postgres://u@h/db (schema jobs)");
        let mut args = global(Some("sqlite:x.db"));
        args.db_prefix = Some("p_".into());
        let err = resolve(&args, None).expect_err("sqlite has no prefix");
        assert_eq!(err.status, ExitStatus::Usage);
    }

    #[test]
    fn a_missing_sqlite_file_is_not_created() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("none.sqlite");
        let err = open_existing(&StoreConfig::sqlite(&path)).expect_err("missing");
        assert_eq!(err.status, ExitStatus::Unavailable);
        assert!(!path.exists());
    }
}
