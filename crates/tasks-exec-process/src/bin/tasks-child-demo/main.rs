//! `tasks-child-demo`: a Rust child for [`ProcessExecutor`](tasks_exec_process::ProcessExecutor),
//! running the demo handler of `handler.rs` through `tasks_exec_process::child::run`. The tests
//! and the benchmark start it; the same handler also runs in process in the tests.

mod handler;

fn main() -> std::process::ExitCode {
    tasks_exec_process::child::run(handler::Demo)
}
