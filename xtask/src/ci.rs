//! `cargo xtask ci [--no-gauntlet]`: the whole CI, in the order that fails fastest.

use crate::run::cmd;

/// Runs the checks; `args` may hold `--no-gauntlet`, which leaves out the full reliability
/// gauntlet (its quick variants still run with the tests), for a faster loop while working.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let gauntlet = match args {
        [] => true,
        [flag] if flag == "--no-gauntlet" => false,
        other => {
            return Err(format!("unknown ci arguments {other:?}; the one flag is --no-gauntlet"));
        }
    };
    cmd("cargo", &["fmt", "--all", "--check"], &[])?;
    cmd(
        "cargo",
        &["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"],
        &[],
    )?;
    // The live tracker alone, as a client without tokio takes it, must build on its own.
    cmd(
        "cargo",
        &["clippy", "-p", "tasks-live", "--no-default-features", "--", "-D", "warnings"],
        &[],
    )?;
    // Every test of every crate: the stores' suites start what they need themselves (the
    // Postgres tests start a throwaway cluster), and under CI=true none may skip itself.
    cmd("cargo", &["test", "--workspace", "--all-features", "--no-fail-fast"], &[])?;
    cmd(
        "cargo",
        &["doc", "--workspace", "--no-deps", "--all-features"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    if gauntlet {
        // The full variants of every scenario on both stores, in release mode (the issue's
        // "the full ones run in CI through the xtask").
        crate::gauntlet::run(&["--store".to_owned(), "all".to_owned()])?;
    }
    eprintln!("xtask ci: all green");
    Ok(())
}
