//! The stdin document a child reads: the field names and shapes the README's protocol section
//! promises to children in any language, on one line, then end of file.

mod support;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tasks_core::{ExecutionOutcome, TaskId, TaskInvocation};
use tasks_exec_process::ProcessExecutor;

use support::{invocation, run_invocation};

/// The JSON example under the README's "stdin: the task" heading.
fn readme_example() -> Value {
    let readme = include_str!("../README.md");
    let (_, section) =
        readme.split_once("### stdin: the task").expect("the README has the section");
    let (_, block) = section.split_once("```json\n").expect("the section has a JSON example");
    let (example, _) = block.split_once("```").expect("the example block ends");
    serde_json::from_str(example).expect("the README's example is JSON")
}

fn field_names(document: &Value) -> BTreeSet<String> {
    document.as_object().expect("an object").keys().cloned().collect()
}

/// Runs a child that copies its stdin to a file, and returns what it copied.
async fn stdin_of(invocation: TaskInvocation) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let copy = dir.path().join("stdin.json");
    // `cat` returns only at end of file, so the attempt ends only if the executor closes stdin.
    let executor = ProcessExecutor::new("sh").arg("-c").arg(r#"cat > "$1""#).arg("sh").arg(&copy);
    let (outcome, _) = run_invocation(&executor, invocation).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(Value::Null));
    std::fs::read(&copy).expect("the child wrote its copy")
}

#[tokio::test]
async fn stdin_holds_the_documented_fields_on_one_line() {
    let metadata = json!({"requestedBy": "ana"}).as_object().cloned();
    let full = TaskInvocation {
        id: TaskId::generate(),
        kind: "report.generate".to_owned(),
        attempt: 2,
        max_attempts: 3,
        metadata,
        channels: vec!["reports".to_owned()],
        concurrency_key: Some("report:42".to_owned()),
        dedupe_key: Some("dedupe:42".to_owned()),
        supersede_key: Some("latest:42".to_owned()),
        input: json!({"reportId": "42"}),
    };
    let bytes = stdin_of(full.clone()).await;
    assert_eq!(bytes.iter().filter(|&&byte| byte == b'\n').count(), 1, "one line");
    assert_eq!(bytes.last(), Some(&b'\n'), "ended by a newline");
    let document: Value = serde_json::from_slice(&bytes).expect("a JSON document");
    assert_eq!(
        document,
        json!({
            "id": full.id.as_str(),
            "kind": "report.generate",
            "attempt": 2,
            "maxAttempts": 3,
            "metadata": {"requestedBy": "ana"},
            "channels": ["reports"],
            "concurrencyKey": "report:42",
            "dedupeKey": "dedupe:42",
            "supersedeKey": "latest:42",
            "input": {"reportId": "42"},
        })
    );
    // A child written from the README alone finds every field under the name it shows.
    assert_eq!(field_names(&document), field_names(&readme_example()));
}

#[tokio::test]
async fn fields_without_a_value_are_null_not_left_out() {
    let bare = invocation(json!(null));
    let document: Value = serde_json::from_slice(&stdin_of(bare).await).expect("a JSON document");
    assert_eq!(field_names(&document), field_names(&readme_example()));
    for name in ["metadata", "concurrencyKey", "dedupeKey", "supersedeKey", "input"] {
        assert_eq!(document[name], Value::Null, "{name}");
    }
}
