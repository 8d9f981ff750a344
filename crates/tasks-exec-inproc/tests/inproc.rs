//! The in-process executor end to end, without a host: every way an attempt can end (output,
//! failure, fatal failure, panic, bad input, bad output, cancellation), and the context a
//! handler sees and reports through.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Deserialize;
use serde_json::{Value, json};
use tasks_core::{
    CancelHandle, CancelSignal, Execution, ExecutionOutcome, NewStep, ProgressUpdate, ReportError,
    TaskExecutor, TaskId, TaskInvocation, TaskReporter,
};
use tasks_exec_inproc::{
    INVALID_INPUT_CODE, INVALID_OUTPUT_CODE, PANIC_CODE, TaskContext, TaskFailure, TaskHandler,
    from_fn,
};

/// Records every report; refuses them all once `lost` is set, like a runner that lost the task.
#[derive(Default)]
struct Recorder {
    reports: Mutex<Vec<String>>,
    lost: std::sync::atomic::AtomicBool,
}

impl Recorder {
    fn push(&self, report: String) -> Result<(), ReportError> {
        if self.lost.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ReportError::LeaseLost);
        }
        self.reports.lock().unwrap_or_else(PoisonError::into_inner).push(report);
        Ok(())
    }

    fn reports(&self) -> Vec<String> {
        self.reports.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl TaskReporter for Recorder {
    fn set_progress(&self, update: ProgressUpdate) -> Result<(), ReportError> {
        self.push(format!("progress {:?} {:?}", update.percent, update.label))
    }
    fn append_step(&self, step: NewStep) -> Result<(), ReportError> {
        self.push(format!("step {}", step.message))
    }
    fn heartbeat(&self) -> Result<(), ReportError> {
        self.push("heartbeat".to_owned())
    }
}

fn invocation(input: Value) -> TaskInvocation {
    TaskInvocation {
        id: TaskId::new("task-1").expect("valid id"),
        kind: "report.generate".into(),
        attempt: 2,
        max_attempts: 3,
        metadata: Some(serde_json::Map::from_iter([("tenant".to_owned(), json!("acme"))])),
        channels: vec!["scope:workspace:42".into()],
        concurrency_key: Some("report:42".into()),
        dedupe_key: Some("dedupe:42".into()),
        supersede_key: None,
        input,
    }
}

fn run(
    executor: &dyn TaskExecutor,
    input: Value,
    cancel: CancelSignal,
) -> (ExecutionOutcome, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let execution = Execution { invocation: invocation(input), reporter: recorder.clone(), cancel };
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    (runtime.block_on(executor.execute(execution)), recorder)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportInput {
    report_id: String,
}

struct Report;

impl TaskHandler for Report {
    type Input = ReportInput;
    type Output = Value;

    async fn run(&self, input: ReportInput, ctx: TaskContext) -> Result<Value, TaskFailure> {
        ctx.set_progress(ProgressUpdate::percent(10.0).label("loading"))?;
        ctx.step(format!("Preparing report {}", input.report_id))?;
        ctx.heartbeat()?;
        Ok(json!({
            "id": ctx.id().as_str(),
            "kind": ctx.kind(),
            "attempt": ctx.attempt(),
            "maxAttempts": ctx.max_attempts(),
            "last": ctx.is_last_attempt(),
            "tenant": ctx.metadata().and_then(|m| m.get("tenant")).cloned(),
            "channels": ctx.channels(),
            "concurrencyKey": ctx.concurrency_key(),
            "dedupeKey": ctx.dedupe_key(),
            "supersedeKey": ctx.supersede_key(),
        }))
    }
}

#[test]
fn a_typed_handler_sees_its_identity_and_reports_in_order() {
    let executor = tasks_exec_inproc::InProcessExecutor::new(Report);
    let (outcome, recorder) = run(&executor, json!({"reportId": "rpt_42"}), CancelSignal::never());
    assert_eq!(
        outcome,
        ExecutionOutcome::Succeeded(json!({
            "id": "task-1", "kind": "report.generate", "attempt": 2, "maxAttempts": 3,
            "last": false, "tenant": "acme", "channels": ["scope:workspace:42"],
            "concurrencyKey": "report:42", "dedupeKey": "dedupe:42", "supersedeKey": null,
        }))
    );
    assert_eq!(
        recorder.reports(),
        vec![
            "progress Some(10.0) Some(\"loading\")".to_owned(),
            "step Preparing report rpt_42".to_owned(),
            "heartbeat".to_owned(),
        ]
    );
}

#[test]
fn input_that_does_not_decode_fails_at_once_naming_the_field() {
    let executor = tasks_exec_inproc::InProcessExecutor::new(Report);
    let (outcome, recorder) = run(&executor, json!({"reportId": 42}), CancelSignal::never());
    let ExecutionOutcome::Failed { error, retryable } = outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    assert!(!retryable);
    assert_eq!(error.code.as_deref(), Some(INVALID_INPUT_CODE));
    assert_eq!(error.details.as_ref().and_then(|d| d.get("path")), Some(&json!("reportId")));
    assert!(recorder.reports().is_empty(), "the handler never ran");
}

#[test]
fn a_panic_is_a_retryable_failure_with_the_message() {
    let executor = from_fn(|_: Value, _ctx: TaskContext| async move {
        if true {
            panic!("disk on fire");
        }
        Ok::<_, TaskFailure>(())
    });
    let (outcome, _) = run(&executor, json!(null), CancelSignal::never());
    let ExecutionOutcome::Failed { error, retryable } = outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    assert!(retryable);
    assert_eq!(error.code.as_deref(), Some(PANIC_CODE));
    assert!(error.message.contains("disk on fire"));
}

#[test]
fn a_panic_before_the_future_exists_is_caught_too() {
    let executor =
        from_fn(|_: Value, _ctx: TaskContext| -> std::future::Ready<Result<(), TaskFailure>> {
            panic!("{}", String::from("synchronous panic"))
        });
    let (outcome, _) = run(&executor, json!(null), CancelSignal::never());
    let ExecutionOutcome::Failed { error, .. } = outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    assert!(error.message.contains("synchronous panic"));
}

#[test]
fn failures_keep_their_error_and_retryability() {
    let executor = from_fn(|input: Value, _ctx: TaskContext| async move {
        let fatal = input.get("fatal").and_then(Value::as_bool).unwrap_or(false);
        let failure = if fatal {
            TaskFailure::fatal("refused").with_code("forbidden")
        } else {
            let io = std::io::Error::other("connection reset");
            TaskFailure::from(io)
        };
        Err::<(), _>(failure)
    });
    let (outcome, _) = run(&executor, json!({"fatal": true}), CancelSignal::never());
    let ExecutionOutcome::Failed { error, retryable } = outcome else { panic!("{outcome:?}") };
    assert!(!retryable);
    assert_eq!(error.code.as_deref(), Some("forbidden"));
    let (outcome, _) = run(&executor, json!({}), CancelSignal::never());
    let ExecutionOutcome::Failed { error, retryable } = outcome else { panic!("{outcome:?}") };
    assert!(retryable);
    assert_eq!(error.name.as_deref(), Some("Error"));
    assert_eq!(error.message, "connection reset");
}

#[test]
fn an_output_that_does_not_encode_fails_without_retry() {
    let executor = from_fn(|_: Value, _ctx: TaskContext| async move {
        // JSON object keys must be strings: a map keyed by tuples does not encode.
        let mut map = BTreeMap::new();
        map.insert((1, 2), "x");
        Ok::<_, TaskFailure>(map)
    });
    let (outcome, _) = run(&executor, json!(null), CancelSignal::never());
    let ExecutionOutcome::Failed { error, retryable } = outcome else { panic!("{outcome:?}") };
    assert!(!retryable);
    assert_eq!(error.code.as_deref(), Some(INVALID_OUTPUT_CODE));
}

#[test]
fn a_handler_that_stops_on_the_signal_is_cancelled_with_its_reason() {
    let executor = from_fn(|_: Value, ctx: TaskContext| async move {
        ctx.cancelled().await;
        ctx.check_cancelled()?;
        Ok::<_, TaskFailure>(())
    });
    let handle = CancelHandle::new();
    handle.cancel("user asked");
    let (outcome, _) = run(&executor, json!(null), handle.signal());
    assert_eq!(outcome, ExecutionOutcome::Cancelled { reason: Some("user asked".into()) });
}

#[test]
fn any_error_after_the_signal_counts_as_cancelled_but_output_still_wins() {
    let failing = from_fn(|_: Value, _ctx: TaskContext| async move {
        Err::<(), _>(TaskFailure::new("interrupted"))
    });
    let handle = CancelHandle::new();
    handle.cancel("timeout");
    let (outcome, _) = run(&failing, json!(null), handle.signal());
    assert_eq!(outcome, ExecutionOutcome::Cancelled { reason: Some("timeout".into()) });
    let finishing = from_fn(|_: Value, _ctx: TaskContext| async move { Ok::<_, TaskFailure>(7) });
    let (outcome, _) = run(&finishing, json!(null), handle.signal());
    assert_eq!(outcome, ExecutionOutcome::Succeeded(json!(7)));
}

#[test]
fn a_lost_lease_surfaces_as_a_report_error() {
    let executor = from_fn(|_: Value, ctx: TaskContext| async move {
        match ctx.step("one") {
            Err(ReportError::LeaseLost) => Err(TaskFailure::new("lost")),
            other => Ok::<_, TaskFailure>(format!("{other:?}")),
        }
    });
    let recorder = Arc::new(Recorder::default());
    recorder.lost.store(true, std::sync::atomic::Ordering::SeqCst);
    let execution = Execution {
        invocation: invocation(json!(null)),
        reporter: recorder.clone(),
        cancel: CancelSignal::never(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let outcome = runtime.block_on(executor.execute(execution));
    assert!(matches!(outcome, ExecutionOutcome::Failed { .. }), "{outcome:?}");
}
