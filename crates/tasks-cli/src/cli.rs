//! The command line: [`Cli`], its global options ([`GlobalArgs`]) and the subcommand, parsed
//! by clap. Each subcommand's own options live in its file under `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser};

use crate::commands::Command;

/// Exit statuses, shown at the end of `tasks --help`.
const EXIT_STATUSES: &str = "\
Exit status: 0 success; 1 the store or a task refused or failed; 2 bad usage (arguments, \
config file, JSON input, unknown kind, store URL); 3 the store cannot be reached; 4 no task \
with that id; 5 `tasks watch ID`: the task did not succeed; 130 interrupted.";

/// A durable background task host: run the demo, run a worker whose task kinds are commands
/// in any language, and inspect or control tasks in any store.
#[derive(Parser, Debug)]
#[command(name = "tasks", version, after_help = EXIT_STATUSES, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every subcommand takes.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct GlobalArgs {
    /// The store: sqlite:PATH or postgres://USER@HOST:PORT/DB (default: the url of the config
    /// file's store section, else sqlite:.data/tasks.sqlite)
    #[arg(long, global = true, env = "TASKS_DB", hide_env_values = true, value_name = "URL")]
    pub(crate) db: Option<String>,
    /// The PostgreSQL schema of the store [default: public]
    #[arg(
        long,
        global = true,
        env = "TASKS_DB_SCHEMA",
        hide_env_values = true,
        value_name = "SCHEMA"
    )]
    pub(crate) db_schema: Option<String>,
    /// The PostgreSQL table prefix of the store [default: tasks_]
    #[arg(
        long,
        global = true,
        env = "TASKS_DB_PREFIX",
        hide_env_values = true,
        value_name = "PREFIX"
    )]
    pub(crate) db_prefix: Option<String>,
    /// The config file [default: ./tasks.toml when it exists]
    #[arg(long, global = true, env = "TASKS_CONFIG", hide_env_values = true, value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,
    /// Print machine-readable JSON instead of text for people
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
