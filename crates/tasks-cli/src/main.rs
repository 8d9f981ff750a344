//! The `tasks` command: the demo on the embedded default, a worker whose task kinds are
//! commands in any language, and inspection and control of tasks in any store.
//!
//! - [`cli`]: the command line (clap); [`commands`]: one file per subcommand.
//! - [`context`]: what subcommands share (global options, config file, store);
//!   [`config`]: `tasks.toml`; [`store`]: finding and opening the store.
//! - [`output`]: text for people (tables, task details, progress bars) and JSON.
//! - [`live`]: following tasks through a live hub; [`runtime`]: the async runtime and the
//!   stop signals; [`demo`]: the demo's kinds and batch.
//! - [`error`]: failures as one line and an exit status (documented there and in `--help`).

mod cli;
mod commands;
mod config;
mod context;
mod demo;
mod error;
mod live;
mod output;
mod runtime;
mod store;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::cli::Cli;
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    let context = Context::new(cli.global);
    match cli.command.run(&context) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report(&err),
    }
}

/// Prints a failure as one line on stderr and returns its exit status.
fn report(error: &CliError) -> ExitCode {
    eprintln!("tasks: {}", error.one_line());
    error.status.into()
}

/// Help and version go to stdout with status 0; a usage mistake is one line with a pointer to
/// the help, status 2.
fn usage_error(error: &clap::Error) -> ExitCode {
    if matches!(error.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        // Printing to stdout can only fail when stdout is gone; nothing is left to tell.
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = error.print();
        return ExitStatus::Usage.into();
    }
    let rendered = error.to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let message = first.strip_prefix("error: ").unwrap_or(first);
    report(&CliError::usage(format!("{message} (see `{} --help`)", command_path(&rendered))))
}

/// The subcommand a clap error is about (`tasks ls`), from its usage line.
fn command_path(rendered: &str) -> String {
    let usage = rendered.lines().find_map(|line| line.trim().strip_prefix("Usage: "));
    let words: Vec<&str> = usage
        .unwrap_or("tasks")
        .split_whitespace()
        .take_while(|word| !word.starts_with(['[', '<', '-']))
        .collect();
    if words.is_empty() { "tasks".to_owned() } else { words.join(" ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usage_line_names_the_subcommand() {
        let rendered = "error: unexpected argument '--x' found\n\nUsage: tasks ls [OPTIONS]\n";
        assert_eq!(command_path(rendered), "tasks ls");
        assert_eq!(command_path("error: nothing"), "tasks");
    }
}
