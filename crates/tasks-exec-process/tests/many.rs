//! 1,000 short children in a row leave no zombie and no open descriptor behind. Alone in its
//! test binary so the descriptor count is this test's.

mod support;

use serde_json::json;
use tasks_core::ExecutionOutcome;
use tasks_exec_process::ProcessExecutor;

use support::{DEMO, failure, open_fds, own_zombies, run};

#[tokio::test]
async fn a_thousand_children_leave_no_zombie_and_no_descriptor() {
    let succeeds =
        ProcessExecutor::new("sh").arg("-c").arg(r#"echo hi; echo '{"type":"result","output":1}'"#);
    let fails = ProcessExecutor::new("sh").arg("-c").arg("echo bad >&2; exit 1");
    let rust = ProcessExecutor::new(DEMO);
    // The first child starts tokio's signal and process machinery, which keeps a few
    // descriptors for good.
    let (warm_up, _) = run(&succeeds, json!(null)).await;
    assert_eq!(warm_up, ExecutionOutcome::Succeeded(json!(1)));
    let fds_before = open_fds();

    for index in 0..1000 {
        match index % 10 {
            0 => {
                let (outcome, _) = run(&rust, json!({"mode": "echo", "value": index})).await;
                assert_eq!(outcome, ExecutionOutcome::Succeeded(json!(index)));
            }
            1 => assert!(failure(&run(&fails, json!(null)).await.0).1),
            _ => assert_eq!(
                run(&succeeds, json!(null)).await.0,
                ExecutionOutcome::Succeeded(json!(1))
            ),
        }
    }

    assert_eq!(own_zombies(), Vec::<u32>::new());
    assert_eq!(open_fds(), fds_before);
}
