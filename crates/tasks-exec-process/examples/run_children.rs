//! Runs the shell and Python example children through a [`ProcessExecutor`] and prints what
//! they report: `cargo run --example run_children`.

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use tasks_core::{
    CancelHandle, Execution, NewStep, ProgressUpdate, ReportError, TaskExecutor, TaskId,
    TaskInvocation, TaskReporter,
};
use tasks_exec_process::ProcessExecutor;

/// Prints every report.
struct Print;

impl TaskReporter for Print {
    fn set_progress(&self, update: ProgressUpdate) -> Result<(), ReportError> {
        println!("  progress {:?} {}", update.percent, update.label.unwrap_or_default());
        Ok(())
    }

    fn append_step(&self, step: NewStep) -> Result<(), ReportError> {
        println!("  step [{} {}] {}", step.kind, step.level, step.message);
        Ok(())
    }

    fn heartbeat(&self) -> Result<(), ReportError> {
        println!("  heartbeat");
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let children = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/children");
    let executors = [
        ("shell", ProcessExecutor::new("sh").arg(children.join("progress.sh"))),
        ("python", ProcessExecutor::new("python3").arg(children.join("progress.py"))),
    ];
    for (name, executor) in executors {
        println!("{name} child:");
        let execution = Execution {
            invocation: TaskInvocation {
                id: TaskId::generate(),
                kind: format!("example.{name}"),
                attempt: 1,
                max_attempts: 1,
                metadata: None,
                channels: Vec::new(),
                concurrency_key: None,
                dedupe_key: None,
                supersede_key: None,
                input: json!({ "items": 3 }),
            },
            reporter: Arc::new(Print),
            cancel: CancelHandle::new().signal(),
        };
        let outcome = executor.execute(execution).await;
        println!("  outcome {outcome:?}");
    }
}
