//! The subcommands: one file each, one variant of [`Command`] each, one arm of
//! [`Command::run`] each. Adding a subcommand is adding a file, a variant and an arm.

mod cancel;
mod compact;
mod demo;
mod enqueue;
mod ls;
mod migrate;
mod schema;
pub(crate) mod serve;
mod show;
mod watch;
mod worker;

use clap::Subcommand;

use crate::context::Context;
use crate::error::CliError;

/// What `tasks` does.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Run the demo: a local SQLite store, sample kinds, live progress bars, a summary
    Demo(demo::DemoArgs),
    /// Run a worker whose kinds are commands (from the config file) until SIGINT or SIGTERM
    Worker(worker::WorkerArgs),
    /// Enqueue a task
    Enqueue(enqueue::EnqueueArgs),
    /// List tasks
    Ls(ls::LsArgs),
    /// Show one task: its snapshot and recent steps
    Show(show::ShowArgs),
    /// Follow tasks live, with progress bars (from any process)
    Watch(watch::WatchArgs),
    /// Cancel a task
    Cancel(cancel::CancelArgs),
    /// Delete finished tasks and old steps by a retention policy
    Compact(compact::CompactArgs),
    /// Print the SQL schema of a store (no database needed)
    Schema(schema::SchemaArgs),
    /// Create or upgrade the schema of a store
    Migrate(migrate::MigrateArgs),
    /// Serve the live web dashboard and its JSON API over the store
    Serve(serve::ServeArgs),
}

impl Command {
    /// Runs the subcommand.
    pub(crate) fn run(self, context: &Context) -> Result<(), CliError> {
        match self {
            Command::Demo(args) => demo::run(args, context),
            Command::Worker(args) => worker::run(args, context),
            Command::Enqueue(args) => enqueue::run(args, context),
            Command::Ls(args) => ls::run(args, context),
            Command::Show(args) => show::run(args, context),
            Command::Watch(args) => watch::run(args, context),
            Command::Cancel(args) => cancel::run(args, context),
            Command::Compact(args) => compact::run(args, context),
            Command::Schema(args) => schema::run(args, context),
            Command::Migrate(args) => migrate::run(args, context),
            Command::Serve(args) => serve::run(args, context),
        }
    }
}
