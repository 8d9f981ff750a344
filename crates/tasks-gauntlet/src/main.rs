//! `tasks-gauntlet [--store sqlite|postgres|all] [--quick] [--only NAME]`: runs the gauntlet's
//! scenarios, prints what each did and its figures, and exits non-zero on any violation.

use std::process::ExitCode;
use std::time::Instant;

use tasks_gauntlet::abuse_support::fuzz;
use tasks_gauntlet::faults_support::{worker, worker_main};
use tasks_gauntlet::{Ctx, StoreKind, scenarios};

fn main() -> ExitCode {
    // The fault scenarios start this very binary as their worker processes.
    let all_args: Vec<String> = std::env::args().skip(1).collect();
    if all_args.first().map(String::as_str) == Some(worker::WORKER_SUBCOMMAND) {
        return worker_main::main(&all_args[1..]);
    }
    // The fuzz scenario starts it as its fuzzing child.
    if all_args.first().map(String::as_str) == Some(fuzz::child::SUBCOMMAND) {
        return fuzz::child::main(&all_args[1..]);
    }
    let mut stores = StoreKind::ALL.to_vec();
    let mut quick = false;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--store" => match args.next().as_deref() {
                Some("sqlite") => stores = vec![StoreKind::Sqlite],
                Some("postgres") => stores = vec![StoreKind::Postgres],
                Some("all") => stores = StoreKind::ALL.to_vec(),
                other => {
                    return usage(&format!("--store takes sqlite, postgres or all, not {other:?}"));
                }
            },
            "--only" => match args.next() {
                Some(name) => only = Some(name),
                None => return usage("--only takes a scenario name"),
            },
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    let all = scenarios::all();
    if let Some(name) = &only
        && !all.iter().any(|scenario| scenario.name == name)
    {
        return usage(&format!("no scenario is named {name:?}"));
    }
    let mut failed = 0;
    for scenario in all.iter().filter(|s| only.as_ref().is_none_or(|name| s.name == name)) {
        for store in stores.iter().copied().filter(|store| scenario.stores.contains(store)) {
            let started = Instant::now();
            let result = (scenario.run)(&Ctx { store, quick });
            let took = started.elapsed().as_secs_f64();
            match result {
                Ok(report) => {
                    println!("ok   {} [{store}] in {took:.1} s", scenario.name);
                    for line in &report.lines {
                        println!("       {line}");
                    }
                }
                Err(violation) => {
                    failed += 1;
                    println!("FAIL {} [{store}] in {took:.1} s: {violation}", scenario.name);
                }
            }
        }
    }
    if failed > 0 {
        println!("{failed} scenario run(s) failed");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("tasks-gauntlet: {problem}");
    eprintln!("usage: tasks-gauntlet [--store sqlite|postgres|all] [--quick] [--only NAME]");
    ExitCode::from(2)
}
