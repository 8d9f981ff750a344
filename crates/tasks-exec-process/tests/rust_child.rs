//! A Rust child (the `tasks-child-demo` binary) under the process executor: reports,
//! outcomes, cancellation, and the same handler giving the same outcome in process.

mod support;

#[path = "../src/bin/tasks-child-demo/handler.rs"]
mod demo;

use std::time::Duration;

use serde_json::{Value, json};
use tasks_core::{CancelHandle, Execution, ExecutionOutcome, StepKind, StepLevel, TaskExecutor};
use tasks_exec_inproc::{INVALID_INPUT_CODE, InProcessExecutor, PANIC_CODE};
use tasks_exec_process::{ProcessExecutor, RESULT_TOO_LARGE_CODE};

use support::{DEMO, Recorder, Report, failure, invocation, run, run_invocation};

fn demo() -> ProcessExecutor {
    ProcessExecutor::new(DEMO).kill_grace(Duration::from_secs(5))
}

#[tokio::test]
async fn reports_progress_steps_and_a_result() {
    let (outcome, recorder) = run(&demo(), json!({"mode": "report", "steps": 4})).await;
    let ExecutionOutcome::Succeeded(output) = outcome else { panic!("{outcome:?}") };
    assert_eq!(output["parts"], json!(4));
    assert_eq!(output["attempt"], json!(1));
    let percents: Vec<Option<f64>> =
        recorder.progress().iter().map(|update| update.percent).collect();
    assert_eq!(percents, vec![Some(25.0), Some(50.0), Some(75.0), Some(100.0)]);
    let steps = recorder.steps();
    assert_eq!(steps.len(), 4);
    assert!(steps.iter().all(|step| step.kind == StepKind::Checkpoint));
    assert_eq!(steps[3].percent, Some(100.0));
    assert_eq!(recorder.reports().last(), Some(&Report::Heartbeat));
}

#[tokio::test]
async fn one_handler_gives_the_same_outcomes_in_process_and_in_a_child() {
    let in_process = InProcessExecutor::new(demo::Demo);
    let inputs = [
        json!({"mode": "report", "steps": 3}),
        json!({"mode": "echo", "value": {"nested": [1, "two", null]}}),
        json!({"mode": "fail", "retryable": false}),
        json!({"mode": "fail", "retryable": true}),
        json!({"mode": "sleep", "ms": 20}),
        json!({"mode": "panic"}),
        json!({"mode": "report", "steps": "many"}),
    ];
    for input in inputs {
        let call = invocation(input.clone());
        let (child_outcome, child_reports) = run_invocation(&demo(), call.clone()).await;
        let (local_outcome, local_reports) = run_invocation(&in_process, call).await;
        // The id in the output is the same task's, so whole outcomes compare equal.
        assert_eq!(child_outcome, local_outcome, "{input}");
        assert_eq!(child_reports.reports(), local_reports.reports(), "{input}");
    }
}

#[tokio::test]
async fn failures_keep_their_code_and_retryable_flag() {
    let (outcome, recorder) = run(&demo(), json!({"mode": "fail", "retryable": false})).await;
    let (error, retryable) = failure(&outcome);
    assert!(!retryable);
    assert_eq!(error.code.as_deref(), Some("demo_failure"));
    assert_eq!(recorder.steps().len(), 1);

    let (outcome, _) = run(&demo(), json!({"mode": "panic"})).await;
    let (error, retryable) = failure(&outcome);
    assert!(retryable);
    assert_eq!(error.code.as_deref(), Some(PANIC_CODE));

    let (outcome, _) = run(&demo(), json!({"mode": "nonsense"})).await;
    let (error, retryable) = failure(&outcome);
    assert!(!retryable);
    assert_eq!(error.code.as_deref(), Some(INVALID_INPUT_CODE));
}

#[tokio::test]
async fn the_child_sees_its_attempt() {
    let mut call = invocation(json!({"mode": "fail-until", "succeed_on": 2}));
    let (outcome, _) = run_invocation(&demo(), call.clone()).await;
    assert!(failure(&outcome).1);
    call.attempt = 2;
    let (outcome, _) = run_invocation(&demo(), call).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(json!({"succeededOn": 2})));
}

#[tokio::test]
async fn sigterm_fires_the_handlers_cancel_signal() {
    let recorder = Recorder::new();
    let cancel = CancelHandle::new();
    let execution = Execution {
        invocation: invocation(json!({"mode": "wait-cancel"})),
        reporter: recorder.clone(),
        cancel: cancel.signal(),
    };
    let running = tokio::spawn(demo().kill_grace(Duration::from_secs(30)).execute(execution));
    recorder.wait_for_step("waiting for cancellation").await;
    let started = std::time::Instant::now();
    cancel.cancel("the user asked");
    let outcome = running.await.expect("the execution ends");
    assert_eq!(outcome, ExecutionOutcome::Cancelled { reason: Some("the user asked".to_owned()) });
    // The handler stopped on SIGTERM, long before the grace period's SIGKILL.
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    // SIGTERM's default action would end the child just as fast and with the same outcome:
    // only the step the handler writes once its cancel signal fired shows the signal worked.
    let messages: Vec<String> = recorder.steps().into_iter().map(|step| step.message).collect();
    assert_eq!(messages, ["waiting for cancellation", "cancel seen"]);
}

#[tokio::test]
async fn a_large_input_reaches_the_child_and_a_large_result_is_refused() {
    let big = "x".repeat(3 * 1024 * 1024);
    let (outcome, _) = run(&demo(), json!({"mode": "sleep", "ms": 1, "padding": big})).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(json!({"slept": 1})));
    // Echoed, the same text makes a result line over the 1 MiB line limit.
    let (outcome, recorder) = run(&demo(), json!({"mode": "echo", "value": big})).await;
    let (error, retryable) = failure(&outcome);
    assert_eq!(error.code.as_deref(), Some(RESULT_TOO_LARGE_CODE));
    assert!(!retryable);
    let cut = recorder.log_steps();
    assert_eq!(cut.len(), 1);
    assert_eq!(cut[0].level, StepLevel::Warn);
    assert!(cut[0].message.len() < 2048);
}

#[tokio::test]
async fn a_child_with_garbage_on_stdin_fails_without_retry() {
    let outcome = tokio::process::Command::new(DEMO)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the demo starts");
    let mut child = outcome;
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"not json").await.expect("written");
    }
    let output = child.wait_with_output().await.expect("the demo ends");
    assert!(output.status.success());
    let line: Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
    assert_eq!(line["type"], json!("error"));
    assert_eq!(line["code"], json!(tasks_exec_process::child::INVALID_INVOCATION_CODE));
    assert_eq!(line["retryable"], json!(false));
}
