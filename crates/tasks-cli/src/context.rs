//! [`Context`]: what every subcommand shares: the global options, the config file (loaded on
//! first use, so a command that needs none is not stopped by a broken one), and the store.

use std::cell::OnceCell;

use tasks::{AnyTaskStore, StoreConfig};

use crate::cli::GlobalArgs;
use crate::config::Config;
use crate::error::CliError;
use crate::store;

/// The global options and the lazily loaded config file.
pub(crate) struct Context {
    global: GlobalArgs,
    config: OnceCell<Option<Config>>,
}

impl Context {
    pub(crate) fn new(global: GlobalArgs) -> Self {
        Context { global, config: OnceCell::new() }
    }

    /// Whether `--json` was given.
    pub(crate) fn json(&self) -> bool {
        self.global.json
    }

    /// The config file: `--config`, else `./tasks.toml` when it exists; `None` otherwise.
    pub(crate) fn config(&self) -> Result<Option<&Config>, CliError> {
        if let Some(config) = self.config.get() {
            return Ok(config.as_ref());
        }
        let loaded = Config::find(self.global.config.as_deref())?;
        Ok(self.config.get_or_init(|| loaded).as_ref())
    }

    /// Where the store is: `--db` (or `TASKS_DB`), else the config file's `[store]`, else
    /// `sqlite:.data/tasks.sqlite`; with `--db-schema` and `--db-prefix` applied.
    pub(crate) fn store_config(&self) -> Result<StoreConfig, CliError> {
        store::resolve(&self.global, self.config()?)
    }

    /// Opens the store, which must exist already (an SQLite file is never created here).
    pub(crate) fn open_store(&self) -> Result<(StoreConfig, AnyTaskStore), CliError> {
        let config = self.store_config()?;
        let store = store::open_existing(&config)?;
        Ok((config, store))
    }

    /// Creates or upgrades the store's schema, then opens it (for the worker and the demo).
    pub(crate) fn prepare_store(&self) -> Result<(StoreConfig, AnyTaskStore), CliError> {
        let config = self.store_config()?;
        store::prepare(&config)?;
        let store = store::open_existing(&config)?;
        Ok((config, store))
    }
}
