//! The fuzzing child: `fuzz-child TARGET MILLIS SEED [ARTIFACT]` (the runner's subcommand, or
//! the `gauntlet-fuzz` binary) fuzzes one target for a bounded time and prints its figures as
//! one JSON line. The `fuzz` scenario runs it under an address-space limit, so an unbounded
//! allocation (or a crash) ends the child, not the gauntlet; [`program`] finds it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::{Target, fuzz_for};
use crate::Violation;

/// The runner's first argument that makes it the fuzzing child.
pub const SUBCOMMAND: &str = "fuzz-child";

/// Runs the child with its arguments (after the subcommand). A finding's whole input is
/// written to ARTIFACT when given; exits 1 on a finding, 2 on bad usage.
pub fn main(args: &[String]) -> ExitCode {
    let (Some(target), Some(millis), Some(seed)) = (
        args.first().and_then(|name| Target::named(name)),
        args.get(1).and_then(|text| text.parse::<u64>().ok()),
        args.get(2).and_then(|text| text.parse::<u64>().ok()),
    ) else {
        let names: Vec<&str> = Target::ALL.iter().map(|target| target.name()).collect();
        eprintln!("usage: {SUBCOMMAND} TARGET MILLIS SEED [ARTIFACT]; targets: {names:?}");
        return ExitCode::from(2);
    };
    // Panics are caught and reported as findings; the default hook would only add noise.
    std::panic::set_hook(Box::new(|_| {}));
    let stats = fuzz_for(target, Duration::from_millis(millis), seed);
    if let (Some(path), Some(input)) = (args.get(3), &stats.finding_input)
        && let Err(error) = std::fs::write(path, input)
    {
        eprintln!("{SUBCOMMAND}: cannot write {path}: {error}");
    }
    match serde_json::to_string(&stats) {
        Ok(line) => println!("{line}"),
        Err(error) => {
            eprintln!("{SUBCOMMAND}: cannot encode the figures: {error}");
            return ExitCode::FAILURE;
        }
    }
    if stats.finding.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// How to start the child: the running gauntlet runner itself with [`SUBCOMMAND`] first, else
/// the `gauntlet-fuzz` binary next to the running executable or in its parent directory
/// (tests run from `target/*/deps`, and cargo builds a package's binaries for its tests).
///
/// # Errors
///
/// A message naming where it looked.
pub fn program() -> Result<(PathBuf, Vec<String>), Violation> {
    let exe = std::env::current_exe()?;
    if exe.file_stem().is_some_and(|stem| stem == "tasks-gauntlet") {
        return Ok((exe, vec![SUBCOMMAND.to_owned()]));
    }
    let name = format!("gauntlet-fuzz{}", std::env::consts::EXE_SUFFIX);
    let mut dirs = exe.ancestors().skip(1).take(2);
    let found = dirs.find_map(|dir| Some(dir.join(&name)).filter(|path| path.is_file()));
    found.map(|path| (path, Vec::new())).ok_or_else(|| {
        Violation(format!(
            "the fuzzing child {name} is not next to {} (build it with `cargo build -p \
             tasks-gauntlet --bins`)",
            exe.display()
        ))
    })
}
