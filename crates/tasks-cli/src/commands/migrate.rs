//! `tasks migrate`: creates or upgrades the schema of the store (`--db`, the config file's, or
//! the default SQLite file). Idempotent; safe while workers run.

use clap::Args;

use crate::context::Context;
use crate::error::CliError;
use crate::output::{print_json, write_stdout};
use crate::store;

/// Options of `tasks migrate` (the store comes from the global `--db`).
#[derive(Args, Debug)]
pub(crate) struct MigrateArgs {}

pub(crate) fn run(_args: MigrateArgs, context: &Context) -> Result<(), CliError> {
    let config = context.store_config()?;
    let prepared = store::prepare(&config)?;
    if context.json() {
        return print_json(&serde_json::json!({
            "store": config.to_string(),
            "driver": prepared.driver.name(),
            "version": prepared.version,
            "previousVersion": prepared.previous_version,
        }));
    }
    let line = match prepared.previous_version {
        Some(previous) if previous == prepared.version => {
            format!("{config}: schema already at version {}", prepared.version)
        }
        Some(0) => format!("{config}: schema created at version {}", prepared.version),
        Some(previous) => {
            format!("{config}: schema upgraded from version {previous} to {}", prepared.version)
        }
        None => format!("{config}: schema ready at version {}", prepared.version),
    };
    write_stdout(&line)
}
