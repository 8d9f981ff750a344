//! `gauntlet-worker`: one host process of the gauntlet's fault scenarios. It runs a task host
//! on the store its arguments name, logs what happens to its history file, and stops when its
//! stdin closes (see `tasks_gauntlet::faults_support::worker`).

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    tasks_gauntlet::faults_support::worker_main::main(&args)
}
