//! `cargo xtask bench <name>`: runs one benchmark binary in release mode. Each prints its own
//! figures (medians of several runs) next to the ceiling it is measured against.

use crate::run::cmd;

/// The benchmarks, and the crate each lives in.
const BENCHES: &[(&str, &str)] = &[
    ("sqlite", "tasks-store-sqlite"),
    ("postgres", "tasks-store-postgres"),
    ("host", "tasks-host"),
    ("process", "tasks-exec-process"),
];

/// The benchmark names, for the usage line.
pub(crate) const NAMES: [&str; 4] = ["sqlite", "postgres", "host", "process"];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let name = args.first().map(String::as_str).unwrap_or("");
    let Some((bench, package)) = BENCHES.iter().find(|(bench, _)| *bench == name) else {
        return Err(format!("unknown benchmark {name:?}; choose one of {}", NAMES.join(", ")));
    };
    let mut cargo_args = vec!["bench", "-p", package, "--bench", bench];
    let rest: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    if !rest.is_empty() {
        cargo_args.push("--");
        cargo_args.extend(rest);
    }
    cmd("cargo", &cargo_args, &[])
}
