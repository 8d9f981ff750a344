//! `cargo xtask ci`: the whole CI, in the order that fails fastest.

use crate::run::cmd;

pub(crate) fn run() -> Result<(), String> {
    cmd("cargo", &["fmt", "--all", "--check"], &[])?;
    cmd(
        "cargo",
        &["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"],
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
    eprintln!("xtask ci: all green");
    Ok(())
}
