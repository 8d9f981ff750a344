//! The example children: the shell script and the Python program of `examples/children`, and
//! the Rust child of `examples/rust_child.rs`, run through the process executor as a user
//! would.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use tasks_core::{CancelHandle, Execution, ExecutionOutcome, StepKind, TaskExecutor};
use tasks_exec_process::ProcessExecutor;

use support::{Recorder, failure, invocation, run};

fn child(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/children").join(name)
}

/// Whether a test has what it needs (`found`); when not, it is skipped with a printed reason,
/// except under CI (`CI=true`), which provides everything, so there a missing piece fails.
fn available(found: bool, what: &str) -> bool {
    assert!(
        found || std::env::var("CI").as_deref() != Ok("true"),
        "{what} is required under CI=true"
    );
    if !found {
        eprintln!("{what} is missing: the test is not run");
    }
    found
}

fn has_python() -> bool {
    // CI installs python3 (.ci/run).
    let found = std::process::Command::new("python3").arg("--version").output().is_ok();
    available(found, "python3")
}

/// The `rust_child` example's binary. Cargo has no `CARGO_BIN_EXE_` variable for examples, but
/// `cargo test` (and so `cargo xtask ci`) builds them into `examples/` next to the `deps/`
/// directory this test runs from; `cargo test --test examples` alone does not build them.
fn rust_child_example() -> Option<PathBuf> {
    let test_binary = std::env::current_exe().ok();
    let profile_dir = test_binary.as_deref().and_then(|path| path.parent()?.parent());
    let binary = profile_dir.map(|dir| dir.join("examples").join("rust_child"));
    let found = binary.as_deref().is_some_and(std::path::Path::is_file);
    available(found, "the built rust_child example (run `cargo test`, or `cargo build --examples`)")
        .then_some(binary)
        .flatten()
}

#[tokio::test]
async fn the_shell_example_reports_progress_and_log_lines() {
    let (outcome, recorder) =
        run(&ProcessExecutor::new("sh").arg(child("progress.sh")), json!({})).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(json!({"parts": 4})));
    let percents: Vec<Option<f64>> =
        recorder.progress().iter().map(|update| update.percent).collect();
    assert_eq!(percents, vec![Some(25.0), Some(50.0), Some(75.0), Some(100.0)]);
    assert_eq!(recorder.log_steps().len(), 5);
    assert_eq!(recorder.steps().last().map(|step| step.kind.clone()), Some(StepKind::Checkpoint));
}

#[tokio::test]
async fn the_python_example_reports_progress() {
    if !has_python() {
        return;
    }
    let executor = ProcessExecutor::new("python3").arg(child("progress.py"));
    let (outcome, recorder) = run(&executor, json!({"items": 4})).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(json!({"items": 4})));
    assert_eq!(recorder.progress().len(), 4);
    assert_eq!(recorder.steps().iter().filter(|step| step.kind == StepKind::Step).count(), 4);
    assert_eq!(recorder.log_steps().len(), 1);
}

#[tokio::test]
async fn the_python_example_stops_on_sigterm() {
    if !has_python() {
        return;
    }
    let recorder = Recorder::new();
    let cancel = CancelHandle::new();
    let execution = Execution {
        invocation: invocation(json!({"items": 1000, "delayMs": 20})),
        reporter: recorder.clone(),
        cancel: cancel.signal(),
    };
    let executor = ProcessExecutor::new("python3")
        .arg(child("progress.py"))
        .kill_grace(Duration::from_secs(30));
    let running = tokio::spawn(executor.execute(execution));
    recorder.wait_for_step("processed item 2").await;
    let started = std::time::Instant::now();
    cancel.cancel("the user asked");
    let outcome = running.await.expect("the execution ends");
    assert_eq!(outcome, ExecutionOutcome::Cancelled { reason: Some("the user asked".to_owned()) });
    assert!(started.elapsed() < Duration::from_secs(10));
    // Python's default SIGTERM action ends the child just as fast and with the same outcome:
    // only the line its handler leads to shows the signal was caught.
    let log: Vec<String> = recorder.log_steps().into_iter().map(|step| step.message).collect();
    assert_eq!(log.last().map(String::as_str), Some("stopping on SIGTERM"), "{log:?}");
}

#[tokio::test]
async fn the_rust_example_reports_each_part_and_refuses_zero_parts() {
    let Some(binary) = rust_child_example() else { return };
    let executor = ProcessExecutor::new(binary);

    let (outcome, recorder) = run(&executor, json!({"parts": 3})).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(json!({"partsDone": 3})));
    let progress = recorder.progress();
    let labels: Vec<Option<&str>> = progress.iter().map(|update| update.label.as_deref()).collect();
    assert_eq!(labels, [Some("part 1"), Some("part 2"), Some("part 3")]);
    assert_eq!(progress.last().and_then(|update| update.percent), Some(100.0));
    let steps = recorder.steps();
    let messages: Vec<&str> = steps.iter().map(|step| step.message.as_str()).collect();
    assert_eq!(messages, ["part 1 done", "part 2 done", "part 3 done"]);
    assert!(steps.iter().all(|step| step.kind == StepKind::Checkpoint));

    // Zero parts is a fatal failure: no retry, and nothing reported before it.
    let (outcome, recorder) = run(&executor, json!({"parts": 0})).await;
    let (error, retryable) = failure(&outcome);
    assert!(!retryable);
    // The handler's own failure carries no code; an input it could not decode would.
    assert_eq!(error.code, None, "{error:?}");
    assert!(recorder.reports().is_empty(), "{:?}", recorder.reports());
}
