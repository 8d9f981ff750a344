//! The stdout protocol and exit rules with programs that are not Rust: shell scripts that
//! print plain lines, protocol lines, garbage, and exit or crash in every way.

mod support;

use serde_json::json;
use tasks_core::{ExecutionOutcome, StepKind, StepLevel};
use tasks_exec_process::{
    EXIT_CODE, EnvPolicy, OutputLimits, ProcessExecutor, RESULT_UNREADABLE_CODE, SIGNAL_CODE,
    SPAWN_FAILED_CODE,
};

use support::{Recorder, failure, invocation, run, run_invocation};

fn sh(script: &str) -> ProcessExecutor {
    ProcessExecutor::new("sh").arg("-c").arg(script)
}

fn messages(steps: &[tasks_core::NewStep]) -> Vec<&str> {
    steps.iter().map(|step| step.message.as_str()).collect()
}

#[tokio::test]
async fn a_plain_script_works_unchanged() {
    let script =
        r"echo hello; echo; printf 'with crlf\r\n'; echo '  spaced  '; printf 'no newline'";
    let (outcome, recorder) = run(&sh(script), json!(null)).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(serde_json::Value::Null));
    let steps = recorder.log_steps();
    assert_eq!(messages(&steps), vec!["hello", "with crlf", "  spaced  ", "no newline"]);
    assert!(steps.iter().all(|step| step.level == StepLevel::Info && step.meta.is_none()));
}

#[tokio::test]
async fn protocol_lines_from_a_script() {
    let script = r#"
        echo '{"type":"progress","percent":10,"label":"start","meta":{"stage":1}}'
        echo '{"type":"step","message":"checked","kind":"checkpoint","level":"success","percent":10}'
        echo '{"type":"heartbeat"}'
        echo '  {"type":"progress","percent":90}  '
        echo '{"type":"result","output":{"ok":true}}'
    "#;
    let (outcome, recorder) = run(&sh(script), json!(null)).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(json!({"ok": true})));
    let progress = recorder.progress();
    assert_eq!(progress.len(), 2);
    assert_eq!(progress[0].label.as_deref(), Some("start"));
    assert_eq!(progress[1].percent, Some(90.0));
    assert_eq!(progress[1].label, None);
    let steps = recorder.steps();
    assert_eq!(steps.len(), 1);
    assert_eq!(
        (steps[0].kind.clone(), steps[0].level.clone()),
        (StepKind::Checkpoint, StepLevel::Success)
    );
    assert!(recorder.reports().contains(&support::Report::Heartbeat));
}

#[tokio::test]
async fn malformed_json_lines_become_log_steps_without_failing() {
    let script = r#"
        echo '{not json'
        echo '{"type":"progress","percent":"forty"}'
        echo '{"type":"unknown","x":1}'
        echo '[1,2,3]'
        echo '{"type":"step"'
        echo 42
    "#;
    let (outcome, recorder) = run(&sh(script), json!(null)).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(serde_json::Value::Null));
    let steps = recorder.log_steps();
    assert_eq!(steps.len(), 6);
    let levels: Vec<StepLevel> = steps.iter().map(|step| step.level.clone()).collect();
    use StepLevel::{Info, Warn};
    assert_eq!(levels, vec![Info, Warn, Info, Info, Info, Info]);
    assert!(recorder.progress().is_empty());
}

#[tokio::test]
async fn refused_reports_become_warnings() {
    let script = r#"
        echo '{"type":"progress","percent":150}'
        echo '{"type":"step","message":"   "}'
        echo '{"type":"progress","percent":50}'
    "#;
    let (outcome, recorder) = run(&sh(script), json!(null)).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(serde_json::Value::Null));
    let warnings = recorder.log_steps();
    assert_eq!(warnings.len(), 2);
    assert!(warnings.iter().all(|step| step.level == StepLevel::Warn));
    assert_eq!(
        warnings[0].meta.as_ref().and_then(|meta| meta.get("refused")),
        Some(&json!("progress"))
    );
    assert_eq!(recorder.progress().len(), 1);
}

#[tokio::test]
async fn invalid_utf8_is_replaced() {
    let script = r#"printf 'caf\303 au lait\n'; printf '{"type":"step","message":"bad \377 byte"}\n'; printf '\377\376\n'"#;
    let (outcome, recorder) = run(&sh(script), json!(null)).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(serde_json::Value::Null));
    let steps = recorder.steps();
    assert_eq!(
        messages(&steps),
        vec!["caf\u{fffd} au lait", "bad \u{fffd} byte", "\u{fffd}\u{fffd}"]
    );
    assert_eq!(steps[1].kind, StepKind::Step);
}

#[tokio::test]
async fn nul_bytes_are_replaced_and_an_escaped_nul_is_refused_alone() {
    // Raw NUL bytes, in a plain line and inside a JSON string; then a NUL escaped in JSON,
    // which decodes to a message no store keeps: that report alone is refused.
    let script = r#"printf 'a \000 b\n'; printf '{"type":"step","message":"raw \000 nul"}\n'
        printf '{"type":"step","message":"escaped \\u0000 nul"}\n'; printf 'after\n'"#;
    let (outcome, recorder) = run(&sh(script), json!(null)).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(serde_json::Value::Null));
    let steps = recorder.steps();
    let texts = messages(&steps);
    assert_eq!(&texts[..2], ["a \u{fffd} b", "raw \u{fffd} nul"]);
    assert_eq!(steps[2].level, StepLevel::Warn, "the refusal is noted: {texts:?}");
    assert_eq!(texts[3], "after");
}

#[tokio::test]
async fn a_non_zero_exit_fails_with_the_stderr_tail() {
    let script = r#"
        echo 'working'
        i=0; while [ $i -lt 2000 ]; do echo "noise line $i" >&2; i=$((i+1)); done
        echo 'fatal: disk full' >&2
        exit 3
    "#;
    let executor = sh(script).limits(OutputLimits::default().stderr_tail_bytes(1024));
    let (outcome, recorder) = run(&executor, json!(null)).await;
    let (error, retryable) = failure(&outcome);
    assert!(retryable);
    assert_eq!(error.code.as_deref(), Some(EXIT_CODE));
    assert_eq!(error.details, Some(json!({"exitCode": 3})));
    assert!(error.message.ends_with("fatal: disk full"), "{}", error.message);
    assert!(error.message.len() <= 1024 + 3);
    assert!(!error.message.contains("noise line 0\n"));
    assert_eq!(messages(&recorder.log_steps()), vec!["working"]);

    let (outcome, _) = run(&sh("exit 7"), json!(null)).await;
    let (error, retryable) = failure(&outcome);
    assert!(retryable);
    assert_eq!(error.details, Some(json!({"exitCode": 7})));
    assert!(!error.message.is_empty());
}

#[tokio::test]
async fn the_error_line_decides_over_the_exit_code() {
    let script = r#"echo '{"type":"error","message":"quota","code":"quota","details":{"left":0},"retryable":false}'; echo oops >&2; exit 1"#;
    let (outcome, _) = run(&sh(script), json!(null)).await;
    let (error, retryable) = failure(&outcome);
    assert!(!retryable);
    assert_eq!(error.code.as_deref(), Some("quota"));
    assert_eq!(error.details, Some(json!({"left": 0})));

    let (outcome, _) = run(&sh(r#"echo '{"type":"error"}'"#), json!(null)).await;
    let (error, retryable) = failure(&outcome);
    assert!(retryable);
    assert!(!error.message.is_empty());

    let cancelled = r#"echo '{"type":"error","message":"stopped","code":"cancelled"}'"#;
    let (outcome, _) = run(&sh(cancelled), json!(null)).await;
    assert_eq!(outcome, ExecutionOutcome::Cancelled { reason: Some("stopped".to_owned()) });
}

#[tokio::test]
async fn the_first_outcome_line_wins() {
    let script =
        r#"echo '{"type":"result","output":1}'; echo '{"type":"error","message":"late"}'; exit 2"#;
    let (outcome, recorder) = run(&sh(script), json!(null)).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(json!(1)));
    let warnings = recorder.log_steps();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].level, StepLevel::Warn);
}

#[tokio::test]
async fn a_crash_by_signal_fails_retryably_naming_the_signal() {
    let (outcome, _) = run(&sh("echo 'about to crash' >&2; kill -SEGV $$"), json!(null)).await;
    let (error, retryable) = failure(&outcome);
    assert!(retryable);
    assert_eq!(error.code.as_deref(), Some(SIGNAL_CODE));
    assert_eq!(error.details, Some(json!({"signal": "SIGSEGV", "signalNumber": 11})));
    assert!(error.message.contains("SIGSEGV"));
    assert!(error.message.contains("about to crash"));

    let (outcome, _) = run(&sh("kill -KILL $$"), json!(null)).await;
    let (error, _) = failure(&outcome);
    assert_eq!(error.details, Some(json!({"signal": "SIGKILL", "signalNumber": 9})));
}

#[tokio::test]
async fn long_lines_are_cut_and_noted() {
    let script = "head -c 3000000 /dev/zero | tr '\\0' a; echo; head -c 20000 /dev/zero | tr '\\0' b; echo; echo after";
    let (outcome, recorder) = run(&sh(script), json!(null)).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(serde_json::Value::Null));
    let steps = recorder.log_steps();
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[0].level, StepLevel::Warn);
    let meta = steps[0].meta.as_ref().expect("the cut is noted");
    assert_eq!(meta.get("lineBytes"), Some(&json!(3_000_000)));
    assert!(steps[0].message.len() < 2048);
    // Under the line limit but over the step message limit: cut to 16 KiB, noted.
    assert_eq!(steps[1].message.len(), tasks_core::limits::MAX_TEXT_LEN);
    let meta = steps[1].meta.as_ref().expect("the cut is noted");
    assert_eq!(meta.get("lineBytes"), Some(&json!(20_000)));
    assert_eq!(steps[2].message, "after");
}

#[tokio::test]
async fn a_result_line_too_deep_to_read_fails_instead_of_passing() {
    // 100,000 levels: no JSON reader takes it, so the child's declared result cannot be had.
    let script = r#"printf '{"type":"result","output":'
        yes '[' | head -n 100000 | tr -d '\n'; yes ']' | head -n 100000 | tr -d '\n'
        printf '}\n'"#;
    let (outcome, recorder) = run(&sh(script), json!(null)).await;
    let (error, retryable) = failure(&outcome);
    assert_eq!(error.code.as_deref(), Some(RESULT_UNREADABLE_CODE));
    assert!(!retryable);
    let steps = recorder.log_steps();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].level, StepLevel::Warn);
    assert!(steps[0].meta.as_ref().is_some_and(|meta| meta.contains_key("unreadableResult")));
}

#[tokio::test]
async fn valid_json_with_a_nested_result_type_is_a_plain_line() {
    // Only a line's top-level `type` makes it a result: a nested one in valid JSON does not.
    let script = r#"
        echo '{"type":"log","message":"x","payload":{"type":"result"}}'
        echo '{"note":{"type":"result"}}'
    "#;
    let (outcome, recorder) = run(&sh(script), json!(null)).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(serde_json::Value::Null));
    let steps = recorder.log_steps();
    assert_eq!(steps.len(), 2);
    assert!(steps.iter().all(|step| step.level == StepLevel::Info && step.meta.is_none()));
}

#[tokio::test]
async fn plain_lines_over_the_budget_are_counted() {
    let executor = sh("seq 1 100").limits(OutputLimits::default().max_log_steps(5));
    let (outcome, recorder) = run(&executor, json!(null)).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(serde_json::Value::Null));
    let steps = recorder.log_steps();
    assert_eq!(messages(&steps[..5]), vec!["1", "2", "3", "4", "5"]);
    assert_eq!(steps.len(), 6);
    assert_eq!(steps[5].meta.as_ref().and_then(|meta| meta.get("droppedLines")), Some(&json!(95)));
}

#[tokio::test]
async fn a_child_that_never_reads_stdin_does_not_deadlock() {
    let big = json!({"blob": "z".repeat(8 * 1024 * 1024)});
    let script = r#"echo '{"type":"result","output":"ignored my input"}'"#;
    let (outcome, _) = run(&sh(script), big.clone()).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(json!("ignored my input")));
    // Closing stdin early, then working on: the same.
    let script = "exec 0<&-; sleep 0.1; echo done";
    let (outcome, recorder) = run(&sh(script), big).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(serde_json::Value::Null));
    assert_eq!(messages(&recorder.log_steps()), vec!["done"]);
}

#[tokio::test]
async fn a_missing_program_fails_without_retry() {
    let (outcome, _) = run(&ProcessExecutor::new("/nonexistent/tasks-program"), json!(null)).await;
    let (error, retryable) = failure(&outcome);
    assert!(!retryable);
    assert_eq!(error.code.as_deref(), Some(SPAWN_FAILED_CODE));
}

#[tokio::test]
async fn environment_working_dir_and_task_variables() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = r#"pwd; echo "task=$TASKS_TASK_ID kind=$TASKS_TASK_KIND attempt=$TASKS_ATTEMPT/$TASKS_MAX_ATTEMPTS"; echo "extra=$EXTRA"; echo "inherited=${CARGO_MANIFEST_DIR:-unset}""#;
    let call = invocation(json!(null));
    let executor = ProcessExecutor::new("/bin/sh")
        .args(["-c", script])
        .current_dir(dir.path())
        .env("EXTRA", "given");
    let (outcome, recorder) = run_invocation(&executor, call.clone()).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(serde_json::Value::Null));
    let steps = recorder.log_steps();
    let expected_dir = dir.path().canonicalize().expect("the directory exists");
    assert_eq!(steps[0].message, expected_dir.to_string_lossy());
    assert_eq!(steps[1].message, format!("task={} kind=demo attempt=1/3", call.id));
    assert_eq!(steps[2].message, "extra=given");
    // Cargo sets this variable for the test process; the child inherits it by default.
    let inherited = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| "unset".to_owned());
    assert_eq!(steps[3].message, format!("inherited={inherited}"));

    let (_, recorder) = run(&executor.clone().env_policy(EnvPolicy::Clear), json!(null)).await;
    assert_eq!(recorder.log_steps()[2].message, "extra=given");
    assert_eq!(recorder.log_steps()[3].message, "inherited=unset");

    let allowed = executor.clone().env_policy(EnvPolicy::allow(["CARGO_MANIFEST_DIR"]));
    let (_, recorder) = run(&allowed, json!(null)).await;
    assert_eq!(recorder.log_steps()[3].message, format!("inherited={inherited}"));
    let others = executor.env_policy(EnvPolicy::allow(["PATH"]));
    let (_, recorder) = run(&others, json!(null)).await;
    assert_eq!(recorder.log_steps()[3].message, "inherited=unset");
}

#[tokio::test]
async fn a_lost_lease_stops_the_child() {
    let recorder = Recorder::losing_lease_after(2);
    let script = "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.01; done";
    let execution = tasks_core::Execution {
        invocation: invocation(json!(null)),
        reporter: recorder.clone(),
        cancel: tasks_core::CancelHandle::new().signal(),
    };
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        tasks_core::TaskExecutor::execute(&sh(script), execution),
    )
    .await
    .expect("the child is stopped");
    assert!(matches!(outcome, ExecutionOutcome::Cancelled { reason: Some(_) }), "{outcome:?}");
    assert_eq!(recorder.log_steps().len(), 2);
}
