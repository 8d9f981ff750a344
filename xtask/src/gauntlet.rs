//! `cargo xtask gauntlet [--store sqlite|postgres|all] [--quick] [--only NAME]`: the
//! reliability gauntlet (crate `tasks-gauntlet`), built in release mode so the full variants
//! run at the speed the figures are quoted at.

use crate::run::cmd;

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut cargo_args = vec!["run", "--release", "-q", "-p", "tasks-gauntlet", "--"];
    cargo_args.extend(args.iter().map(String::as_str));
    cmd("cargo", &cargo_args, &[])
}
