//! Project automation, run as `cargo xtask <command>` (an alias in `.cargo/config.toml`).
//!
//! - `cargo xtask ci [--no-gauntlet]`: what CI runs: fmt check, clippy with `-D warnings`, every
//!   test of every crate on every store, the doc build with warnings denied, then the full
//!   reliability gauntlet on both stores (`--no-gauntlet` leaves it out).
//! - `cargo xtask bench <name>`: a benchmark (`sqlite`, `postgres`, `host`, `process`).
//! - `cargo xtask gauntlet [...]`: the reliability gauntlet (faults, bad input, races).
//!
//! It depends on nothing but std, so it builds in a second.

mod bench;
mod ci;
mod gauntlet;
mod run;
#[cfg(test)]
mod tidy;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("gauntlet") => gauntlet::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask ci [--no-gauntlet] | bench <{}> | gauntlet [--store sqlite|postgres|all] [--quick] [--only NAME]",
                bench::NAMES.join("|")
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
