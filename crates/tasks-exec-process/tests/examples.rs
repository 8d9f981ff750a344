//! The example children of `examples/children`: a shell script and a Python program, run
//! through the process executor as a user would.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use tasks_core::{CancelHandle, Execution, ExecutionOutcome, StepKind, TaskExecutor};
use tasks_exec_process::ProcessExecutor;

use support::{Recorder, invocation, run};

fn child(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/children").join(name)
}

fn has_python() -> bool {
    let found = std::process::Command::new("python3").arg("--version").output().is_ok();
    // CI installs python3 (.ci/run); there a missing interpreter is a failure, not a skip.
    assert!(
        found || std::env::var("CI").as_deref() != Ok("true"),
        "python3 is required under CI=true"
    );
    if !found {
        eprintln!("python3 is not installed: the Python example is not run");
    }
    found
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
}
