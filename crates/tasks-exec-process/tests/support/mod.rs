//! Shared test helpers: a reporter that records what an execution reports, invocations, and
//! looks into `/proc` (zombies, open descriptors, memory).

#![allow(dead_code)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tasks_core::transition::{validate_progress, validate_step};
use tasks_core::{
    CancelHandle, Execution, ExecutionOutcome, NewStep, ProgressUpdate, ReportError, StepKind,
    TaskExecutor, TaskId, TaskInvocation, TaskReporter,
};
use tokio::sync::watch;

/// The demo child's path.
pub(crate) const DEMO: &str = env!("CARGO_BIN_EXE_tasks-child-demo");

/// One report.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Report {
    Progress(ProgressUpdate),
    Step(NewStep),
    Heartbeat,
}

/// Records reports, validating them as a host would; can be told to refuse after a while.
pub(crate) struct Recorder {
    reports: Mutex<Vec<Report>>,
    changed: watch::Sender<usize>,
    /// After this many accepted reports, every report gets `ReportError::LeaseLost`.
    lease_lost_after: Option<usize>,
}

impl Recorder {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Recorder {
            reports: Mutex::default(),
            changed: watch::channel(0).0,
            lease_lost_after: None,
        })
    }

    pub(crate) fn losing_lease_after(reports: usize) -> Arc<Self> {
        Arc::new(Recorder {
            reports: Mutex::default(),
            changed: watch::channel(0).0,
            lease_lost_after: Some(reports),
        })
    }

    fn record(&self, report: Report) -> Result<(), ReportError> {
        let mut reports = self.reports.lock().unwrap_or_else(PoisonError::into_inner);
        if self.lease_lost_after.is_some_and(|limit| reports.len() >= limit) {
            return Err(ReportError::LeaseLost);
        }
        reports.push(report);
        let count = reports.len();
        drop(reports);
        self.changed.send_replace(count);
        Ok(())
    }

    pub(crate) fn reports(&self) -> Vec<Report> {
        self.reports.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(crate) fn steps(&self) -> Vec<NewStep> {
        self.reports()
            .into_iter()
            .filter_map(|report| match report {
                Report::Step(step) => Some(step),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn log_steps(&self) -> Vec<NewStep> {
        self.steps().into_iter().filter(|step| step.kind == StepKind::Log).collect()
    }

    pub(crate) fn progress(&self) -> Vec<ProgressUpdate> {
        self.reports()
            .into_iter()
            .filter_map(|report| match report {
                Report::Progress(update) => Some(update),
                _ => None,
            })
            .collect()
    }

    /// Waits (20 s at most) for a step whose message contains `text`, and returns it.
    pub(crate) async fn wait_for_step(&self, text: &str) -> NewStep {
        let mut changes = self.changed.subscribe();
        let wait = async {
            loop {
                if let Some(step) =
                    self.steps().into_iter().find(|step| step.message.contains(text))
                {
                    return step;
                }
                changes.changed().await.expect("the recorder lives");
            }
        };
        tokio::time::timeout(Duration::from_secs(20), wait).await.expect("the step arrives in time")
    }
}

impl TaskReporter for Recorder {
    fn set_progress(&self, update: ProgressUpdate) -> Result<(), ReportError> {
        validate_progress(&update)?;
        self.record(Report::Progress(update))
    }

    fn append_step(&self, step: NewStep) -> Result<(), ReportError> {
        validate_step(&step)?;
        self.record(Report::Step(step))
    }

    fn heartbeat(&self) -> Result<(), ReportError> {
        self.record(Report::Heartbeat)
    }
}

/// An invocation of kind `demo` with this input.
pub(crate) fn invocation(input: Value) -> TaskInvocation {
    TaskInvocation {
        id: TaskId::generate(),
        kind: "demo".to_owned(),
        attempt: 1,
        max_attempts: 3,
        metadata: None,
        channels: vec!["demo".to_owned()],
        concurrency_key: None,
        dedupe_key: None,
        supersede_key: None,
        input,
    }
}

/// Runs one execution to its end with a never-firing cancel signal.
pub(crate) async fn run(
    executor: &impl TaskExecutor,
    input: Value,
) -> (ExecutionOutcome, Arc<Recorder>) {
    run_invocation(executor, invocation(input)).await
}

/// Runs one execution of `invocation` to its end.
pub(crate) async fn run_invocation(
    executor: &impl TaskExecutor,
    invocation: TaskInvocation,
) -> (ExecutionOutcome, Arc<Recorder>) {
    let recorder = Recorder::new();
    let execution =
        Execution { invocation, reporter: recorder.clone(), cancel: CancelHandle::new().signal() };
    let outcome = tokio::time::timeout(Duration::from_secs(60), executor.execute(execution))
        .await
        .expect("the execution ends in time");
    (outcome, recorder)
}

/// The error of a failed outcome and its retryable flag.
pub(crate) fn failure(outcome: &ExecutionOutcome) -> (tasks_core::TaskError, bool) {
    match outcome {
        ExecutionOutcome::Failed { error, retryable } => (error.clone(), *retryable),
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// The state letter of a process (`R`, `S`, `Z`...) and its parent, or `None` once it is gone.
pub(crate) fn process_state(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: read after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((state, parent))
}

/// Whether a process is gone or dead (a zombie left for someone else to reap counts as dead).
pub(crate) fn is_dead(pid: u32) -> bool {
    !matches!(process_state(pid), Some((state, _)) if state != 'Z' && state != 'X')
}

/// Waits (10 s at most) until a process is dead; the kernel finishes a kill asynchronously.
pub(crate) async fn wait_dead(pid: u32) -> bool {
    for _ in 0..1000 {
        if is_dead(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Waits (10 s at most) until a child of this process is dead and reaped, so neither it nor
/// its zombie is left: gone from `/proc`, or (its pid reused) no longer this process's child.
/// A dropped child is reaped by tokio in the background once its SIGCHLD arrives.
pub(crate) async fn wait_reaped(pid: u32) -> bool {
    let me = std::process::id();
    for _ in 0..1000 {
        if !matches!(process_state(pid), Some((_, parent)) if parent == me) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// The zombie children of this process.
pub(crate) fn own_zombies() -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .expect("/proc is readable")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| matches!(process_state(pid), Some(('Z', parent)) if parent == me))
        .collect()
}

/// How many descriptors this process has open.
pub(crate) fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd is readable").count()
}

/// A field of `/proc/self/status` in KiB (`VmHWM`, `VmRSS`).
pub(crate) fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .expect("the field is there")
}

/// The live processes (not zombies) of a process group.
pub(crate) fn group_members(group: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .expect("/proc is readable")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some(close) = stat.rfind(')') else { return false };
            let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
            fields.len() > 2 && fields[0] != "Z" && fields[2].parse() == Ok(group)
        })
        .collect()
}

/// Waits (10 s at most) until a process group has no live member.
pub(crate) async fn wait_group_gone(group: u32) -> bool {
    for _ in 0..1000 {
        if group_members(group).is_empty() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// The numbers in a step message such as `pids 12 34`.
pub(crate) fn numbers(message: &str) -> Vec<u32> {
    message.split_whitespace().filter_map(|word| word.parse().ok()).collect()
}
