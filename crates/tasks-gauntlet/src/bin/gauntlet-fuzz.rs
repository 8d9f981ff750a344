//! `gauntlet-fuzz TARGET MILLIS SEED [ARTIFACT]`: the fuzzing child of the `fuzz` scenario
//! (see `tasks_gauntlet::abuse_support::fuzz::child`), as a binary of its own for the tests,
//! which cannot start the runner.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    tasks_gauntlet::abuse_support::fuzz::child::main(&args)
}
