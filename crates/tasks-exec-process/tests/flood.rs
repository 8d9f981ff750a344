//! A 200 MB stdout flood, with and without newlines, keeps the host's memory bounded. Alone in
//! its test binary so the process's peak memory is this test's.

mod support;

use serde_json::json;
use tasks_core::{ExecutionOutcome, StepLevel};
use tasks_exec_process::{OutputLimits, ProcessExecutor};

use support::{run, status_kib};

const FLOOD_BYTES: u64 = 200_000_000;
/// With its newline, 40 bytes: 5,000,000 lines make the flood.
const LINE: &str = "a line of flood output, 40 bytes long..";

fn sh(script: &str) -> ProcessExecutor {
    ProcessExecutor::new("sh").arg("-c").arg(script)
}

#[tokio::test]
async fn a_200_mb_flood_keeps_host_memory_bounded() {
    let (warm_up, _) = run(&sh("echo warm"), json!(null)).await;
    assert_eq!(warm_up, ExecutionOutcome::Succeeded(serde_json::Value::Null));
    let peak_before = status_kib("VmHWM");

    // One 200 MB line: kept up to the 1 MiB line limit, the rest read and thrown away.
    let one_line = format!("head -c {FLOOD_BYTES} /dev/zero");
    let (outcome, recorder) = run(&sh(&one_line), json!(null)).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(serde_json::Value::Null));
    let steps = recorder.log_steps();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].level, StepLevel::Warn);
    let meta = steps[0].meta.as_ref().expect("the cut is noted");
    assert_eq!(meta.get("lineBytes"), Some(&json!(FLOOD_BYTES)));

    // 200 MB of 40-byte lines: the first ones become log steps, the rest are counted.
    let many_lines = format!("yes '{LINE}' | head -c {FLOOD_BYTES}");
    let (outcome, recorder) = run(&sh(&many_lines), json!(null)).await;
    assert_eq!(outcome, ExecutionOutcome::Succeeded(serde_json::Value::Null));
    let steps = recorder.log_steps();
    let budget = OutputLimits::DEFAULT_MAX_LOG_STEPS;
    assert_eq!(steps.len() as u64, budget + 1);
    let dropped = steps.last().and_then(|step| step.meta.as_ref()?.get("droppedLines")?.as_u64());
    assert_eq!(dropped, Some(FLOOD_BYTES / (LINE.len() as u64 + 1) - budget));

    let peak_after = status_kib("VmHWM");
    let growth_mib = peak_after.saturating_sub(peak_before) / 1024;
    println!("peak RSS {peak_before} KiB -> {peak_after} KiB after 400 MB of output");
    // Measured: about 4 MiB of growth (a 1 MiB line buffer, the read buffer, the kept log
    // steps); 32 MiB leaves room for allocator noise while any buffering of the flood, which
    // is 200 MB each time, fails.
    assert!(growth_mib < 32, "the peak grew by {growth_mib} MiB");
}
