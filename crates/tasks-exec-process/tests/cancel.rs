//! Stopping a child: cancel and timeout (SIGTERM to the group, SIGKILL after the grace
//! period), grandchildren, a dropped execution. Nothing may survive, and no zombie stays.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tasks_core::{CancelHandle, Execution, ExecutionOutcome, TaskExecutor};
use tasks_exec_process::ProcessExecutor;

use support::{
    Recorder, group_members, invocation, numbers, own_zombies, wait_dead, wait_group_gone,
    wait_reaped,
};

fn sh(script: &str) -> ProcessExecutor {
    ProcessExecutor::new("sh").arg("-c").arg(script)
}

/// Starts `executor`, waits for a step containing `marker` and returns its numbers, the
/// cancel handle and the running execution.
async fn start(
    executor: ProcessExecutor,
    marker: &str,
) -> (Vec<u32>, CancelHandle, tokio::task::JoinHandle<ExecutionOutcome>, Arc<Recorder>) {
    let recorder = Recorder::new();
    let cancel = CancelHandle::new();
    let execution = Execution {
        invocation: invocation(json!(null)),
        reporter: recorder.clone(),
        cancel: cancel.signal(),
    };
    let running = tokio::spawn(executor.execute(execution));
    let step = recorder.wait_for_step(marker).await;
    (numbers(&step.message), cancel, running, recorder)
}

#[tokio::test]
async fn cancel_kills_the_child_and_its_grandchildren() {
    // The grandchild ignores SIGTERM: only the final SIGKILL to the group ends it.
    let script = r#"sh -c 'trap "" TERM; echo "grandchild $$"; exec sleep 1000' & echo "leader $$"; sleep 1000"#;
    let executor = sh(script).kill_grace(Duration::from_secs(30));
    let (pids, cancel, running, recorder) = start(executor, "leader").await;
    let leader = pids[0];
    let grandchild = numbers(&recorder.wait_for_step("grandchild").await.message)[0];
    assert!(group_members(leader).contains(&grandchild));
    let started = Instant::now();
    cancel.cancel("the user asked");
    let outcome = running.await.expect("the execution ends");
    assert_eq!(outcome, ExecutionOutcome::Cancelled { reason: Some("the user asked".to_owned()) });
    // The leader died of SIGTERM: no need to wait for the 30 s grace.
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(wait_dead(leader).await, "the child is gone");
    assert!(wait_dead(grandchild).await, "the grandchild is gone");
    assert!(wait_group_gone(leader).await, "nothing is left in the group");
    assert!(!own_zombies().contains(&leader));
}

/// SIGTERM goes to the whole process group, not only to the leader: a grandchild that
/// handles it leaves a mark, while the leader ignores it (so nothing but the group signal can
/// reach the grandchild before the final SIGKILL).
#[tokio::test]
async fn sigterm_reaches_every_process_in_the_group() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mark = dir.path().join("grandchild-term");
    let script = format!(
        r#"sh -c 'trap "echo term > {mark}; exit 0" TERM; echo "grandchild $$"; while true; do sleep 0.05; done' & trap '' TERM; echo "leader $$"; while true; do sleep 0.05; done"#,
        mark = mark.display()
    );
    let grace = Duration::from_secs(2);
    let (pids, cancel, running, recorder) = start(sh(&script).kill_grace(grace), "leader").await;
    let grandchild = numbers(&recorder.wait_for_step("grandchild").await.message)[0];
    assert!(group_members(pids[0]).contains(&grandchild));
    cancel.cancel("the user asked");
    running.await.expect("the execution ends");
    let marked = std::fs::read_to_string(&mark).unwrap_or_default();
    assert_eq!(marked.trim(), "term", "the grandchild got SIGTERM, not only the final SIGKILL");
    assert!(wait_group_gone(pids[0]).await, "nothing is left in the group");
}

#[tokio::test]
async fn a_timeout_escalates_to_sigkill_after_the_grace_period() {
    let script = r#"trap '' TERM; echo "started $$"; while true; do sleep 1; done"#;
    let grace = Duration::from_millis(300);
    let (pids, cancel, running, _) = start(sh(script).kill_grace(grace), "started").await;
    let started = Instant::now();
    cancel.cancel("timeout");
    let outcome = running.await.expect("the execution ends");
    let elapsed = started.elapsed();
    assert_eq!(outcome, ExecutionOutcome::Cancelled { reason: Some("timeout".to_owned()) });
    assert!(elapsed >= grace, "SIGTERM was ignored, so the grace ran out: {elapsed:?}");
    assert!(elapsed < grace + Duration::from_secs(5), "{elapsed:?}");
    assert!(wait_group_gone(pids[0]).await);
    assert!(!own_zombies().contains(&pids[0]));
}

#[tokio::test]
async fn a_child_that_stops_on_sigterm_ends_before_the_grace() {
    let script = r#"trap 'echo "{\"type\":\"error\",\"message\":\"bye\",\"code\":\"cancelled\"}"; exit 0' TERM; echo "started $$"; while true; do sleep 0.05; done"#;
    let (pids, cancel, running, recorder) =
        start(sh(script).kill_grace(Duration::from_secs(30)), "started").await;
    cancel.cancel("stop now");
    let outcome = running.await.expect("the execution ends");
    // The executor's reason wins over the child's message.
    assert_eq!(outcome, ExecutionOutcome::Cancelled { reason: Some("stop now".to_owned()) });
    assert_eq!(recorder.log_steps().len(), 1);
    assert!(wait_group_gone(pids[0]).await);
}

#[tokio::test]
async fn a_result_written_before_the_stop_still_counts() {
    let script =
        r#"echo '{"type":"result","output":"done"}'; trap '' TERM; echo "started $$"; sleep 1000"#;
    let (_, cancel, running, _) =
        start(sh(script).kill_grace(Duration::from_millis(100)), "started").await;
    cancel.cancel("too late");
    let outcome = running.await.expect("the execution ends");
    assert_eq!(outcome, ExecutionOutcome::Succeeded(json!("done")));
}

#[tokio::test]
async fn a_cancel_before_the_start_spawns_nothing() {
    let cancel = CancelHandle::new();
    cancel.cancel("never mind");
    let execution = Execution {
        invocation: invocation(json!(null)),
        reporter: Recorder::new(),
        cancel: cancel.signal(),
    };
    let outcome = sh("echo ran").execute(execution).await;
    assert_eq!(outcome, ExecutionOutcome::Cancelled { reason: Some("never mind".to_owned()) });
}

#[tokio::test]
async fn dropping_the_execution_kills_the_group() {
    let script = r#"sleep 1000 & echo "pids $$ $!"; wait"#;
    let (pids, _cancel, running, _) = start(sh(script), "pids").await;
    running.abort();
    assert!(running.await.expect_err("aborted").is_cancelled());
    assert!(wait_dead(pids[0]).await);
    assert!(wait_dead(pids[1]).await);
    assert!(wait_group_gone(pids[0]).await);
    // Nobody awaits the dropped child any more: tokio's orphan reaping must still collect it.
    assert!(wait_reaped(pids[0]).await, "the leader is left a zombie");
}

#[tokio::test]
async fn processes_left_behind_by_a_finished_child_are_killed() {
    let script = r#"sleep 1000 >/dev/null 2>&1 & echo "pids $$ $!""#;
    let recorder = Recorder::new();
    let execution = Execution {
        invocation: invocation(json!(null)),
        reporter: recorder.clone(),
        cancel: CancelHandle::new().signal(),
    };
    let outcome = sh(script).execute(execution).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(serde_json::Value::Null));
    let pids = numbers(&recorder.log_steps()[0].message);
    assert!(wait_dead(pids[1]).await, "the background sleep is gone");
}

#[tokio::test]
async fn a_process_that_left_the_group_cannot_hold_the_attempt_open() {
    // `setsid` takes the sleeper out of the group with stdout still open: the executor stops
    // draining after its drain timeout instead of waiting for it.
    // The leader waits for the file the escaped process creates once it left the group.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let up = dir.path().join("up");
    let script = format!(
        r#"setsid sh -c 'touch "{up}"; exec sleep 5' & while [ ! -e "{up}" ]; do sleep 0.01; done; echo '{{"type":"result","output":1}}'"#,
        up = up.display()
    );
    let started = Instant::now();
    let (outcome, _) = support::run(&sh(&script), json!(null)).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(json!(1)));
    let elapsed = started.elapsed();
    assert!(elapsed >= tasks_exec_process::DRAIN_TIMEOUT, "{elapsed:?}");
    assert!(elapsed < tasks_exec_process::DRAIN_TIMEOUT + Duration::from_secs(5), "{elapsed:?}");
}
