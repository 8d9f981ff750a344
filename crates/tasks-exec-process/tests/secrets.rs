//! The default environment policy end to end: a host process that holds secret-looking
//! variables starts a child that must not see them, while ordinary variables pass.
//!
//! A test cannot set variables on its own process without `unsafe`, so the test starts its
//! own binary again with the variables set, running only [`child_host_entry`], which runs the
//! executor and prints what the child saw.

mod support;

use std::process::Command;

use serde_json::json;
use tasks_exec_process::ProcessExecutor;

use support::run;

/// Set only in the re-started test process.
const CHILD_HOST: &str = "TASKS_TEST_SECRETS_CHILD_HOST";

#[tokio::test]
async fn child_host_entry() {
    if std::env::var(CHILD_HOST).is_err() {
        // In a normal run this is the parent's helper, not a test of its own.
        return;
    }
    let script = r#"echo "token=${SERVICE_API_TOKEN:-absent}"; echo "password=${db_password:-absent}"; echo "url=${DATABASE_URL:-absent}"; echo "plain=${PLAIN_SETTING:-absent}""#;
    let executor = ProcessExecutor::new("/bin/sh").args(["-c", script]);
    let (_, recorder) = run(&executor, json!(null)).await;
    for step in recorder.log_steps() {
        println!("SEEN {}", step.message);
    }
}

#[test]
fn secret_looking_variables_are_not_inherited_by_default() {
    let output = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", "child_host_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_HOST, "1")
        .env("SERVICE_API_TOKEN", "hunter2")
        .env("db_password", "swordfish")
        .env("DATABASE_URL", "postgres://user:pw@host/db")
        .env("PLAIN_SETTING", "visible")
        .output()
        .expect("the child host runs");
    assert!(output.status.success(), "child host failed: {output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // libtest may print its own "test ... " prefix on the first line; find the marker anywhere.
    let seen: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.find("SEEN ").map(|at| &line[at + "SEEN ".len()..]))
        .collect();
    assert_eq!(seen, vec!["token=absent", "password=absent", "url=absent", "plain=visible"]);
}
