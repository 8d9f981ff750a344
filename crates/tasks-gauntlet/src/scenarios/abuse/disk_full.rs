//! Scenario 8, `disk-full` (SQLite): the disk under the database fills up while a host works
//! and callers enqueue; then the space returns.
//!
//! 1. A small tmpfs holds the database; a host runs tasks that write steps, progress and an
//!    output. Some tasks finish while there is room.
//! 2. A ballast file fills the disk, leaving a few pages. Callers keep enqueueing (each with
//!    its own id) and the host keeps working. Every refusal must be a clean, typed
//!    `Unavailable` error (never a panic, a backend error or a damaged file), for the callers
//!    and in the host's `runner:error` events alike.
//! 3. The ballast goes. SQLite's `integrity_check` must say `ok`; every enqueue that was
//!    acknowledged is there and every refused one is not; work resumes on its own: every
//!    acknowledged task, old and new, succeeds (tasks whose writes failed come back when their
//!    lease runs out).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};
use tasks_core::{
    EnqueueOptions, HostEventType, NewStep, NewTask, ProgressUpdate, TaskId, TaskStatus, TaskStore,
    Timestamp,
};
use tasks_exec_inproc::{InProcessExecutor, TaskContext, TaskFailure, TaskHandler};
use tasks_host::{HandlerRegistration, RetryPolicy, TaskHost};
use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};

use crate::abuse_support::probe::Probe;
use crate::abuse_support::runtime::{runner, runtime, wait_for};
use crate::abuse_support::tmpfs::SmallDisk;
use crate::{Ctx, Report, Violation, ensure};

const KIND: &str = "disk.work";
/// The disk: small, yet room for the store's write-ahead log, which grows to about 40 MiB
/// between checkpoints (see `tasks-store-sqlite`), so the work before the ballast never fills
/// it.
const DISK_MIB: u32 = 96;
/// What the ballast leaves free.
const SPARE_BYTES: u64 = 128 * 1024;
const PATIENCE: Duration = Duration::from_secs(120);

#[derive(Deserialize)]
struct Work {
    #[serde(default)]
    pad: String,
    /// How long each of the three parts takes.
    #[serde(default)]
    part_ms: u64,
}

/// Writes a little of everything: progress, a few steps, an output.
struct Writer;

impl TaskHandler for Writer {
    type Input = Work;
    type Output = Value;

    async fn run(&self, input: Work, ctx: TaskContext) -> Result<Value, TaskFailure> {
        for n in 1..=3u32 {
            ctx.set_progress(ProgressUpdate::percent(f64::from(n) * 30.0))?;
            ctx.append_step(NewStep::info(format!("part {n}: {}", "s".repeat(512))))?;
            tokio::time::sleep(Duration::from_millis(input.part_ms.max(2))).await;
        }
        Ok(json!({ "echo": input.pad.len(), "pad": "o".repeat(1024) }))
    }
}

/// The refusals seen, by who saw them and their kind.
type Refusals = BTreeMap<String, u64>;

pub(super) fn run(ctx: &Ctx) -> Result<Report, Violation> {
    let mut report = Report::new();
    let disk = SmallDisk::mount(DISK_MIB)?;
    let path = disk.path().join("tasks.db");
    let runtime = runtime()?;
    let options = || SqliteOptions::new(&path).busy_timeout(Duration::from_secs(2));
    let host_store: Arc<dyn TaskStore> = Arc::new(SqliteTaskStore::open(options())?);
    let caller: Arc<dyn TaskStore> = Arc::new(SqliteTaskStore::open(options())?);
    let host = TaskHost::builder_from_arc(Arc::clone(&host_store))
        .options(
            runner("disk-full", 4)
                .lease(Duration::from_secs(2))
                .heartbeat(Duration::from_millis(500))
                .stale_scan_interval(Duration::from_millis(250)),
        )
        .handler(
            HandlerRegistration::new(KIND, InProcessExecutor::new(Writer))
                .retry(RetryPolicy::attempts(20)),
        )
        .build()?;
    let runner_errors: Arc<Mutex<Refusals>> = Arc::default();
    let seen = Arc::clone(&runner_errors);
    let _listening = host.on_event(move |event| {
        if event.event_type == HostEventType::RunnerError {
            let code = event.error.as_ref().and_then(|error| error.code.clone());
            let code = code.unwrap_or_else(|| "none".into());
            *seen.lock().unwrap_or_else(PoisonError::into_inner).entry(code).or_default() += 1;
        }
    });
    runtime.block_on(host.start())?;
    let outcome = phases(ctx, &disk, &path, &*caller, &mut report);
    runtime.block_on(host.stop())?;
    drop(host);
    let runner_errors = runner_errors.lock().unwrap_or_else(PoisonError::into_inner).clone();
    outcome?;
    let stray: u64 =
        runner_errors.iter().filter(|(code, _)| *code != "unavailable").map(|(_, n)| n).sum();
    ensure!(
        stray == 0,
        "disk-full: the host reported errors other than unavailable: {runner_errors:?}"
    );
    report.figure("host runner errors while full (by kind)", format!("{runner_errors:?}"));
    Ok(report)
}

fn phases(
    ctx: &Ctx,
    disk: &SmallDisk,
    path: &std::path::Path,
    caller: &dyn TaskStore,
    report: &mut Report,
) -> Result<(), Violation> {
    let mut acknowledged: Vec<TaskId> = Vec::new();
    let mut refused: Vec<TaskId> = Vec::new();
    let mut refusals = Refusals::new();
    let mut next = 0u64;
    // 1. Room to work.
    let warmup = if ctx.quick { 20 } else { 200 };
    for _ in 0..warmup {
        enqueue(caller, &mut next, &mut acknowledged, &mut refused, &mut refusals)?;
    }
    all_succeed(caller, &acknowledged, "before the disk filled")?;
    // 2. The disk fills while slow tasks run: their later writes meet the full disk.
    let in_flight = slow_tasks(caller, &mut acknowledged)?;
    let ballast = disk.fill("ballast", SPARE_BYTES)?;
    let ballast_kib = ballast.bytes / 1024;
    let full_for = if ctx.quick { Duration::from_secs(2) } else { Duration::from_secs(15) };
    let until = Instant::now() + full_for;
    let acknowledged_before = acknowledged.len();
    while Instant::now() < until {
        enqueue(caller, &mut next, &mut acknowledged, &mut refused, &mut refusals)?;
        std::thread::sleep(Duration::from_millis(2));
    }
    let acknowledged_while_full = acknowledged.len() - acknowledged_before;
    ensure!(
        !refused.is_empty(),
        "disk-full: {} enqueues while the disk was full and none refused: the disk never filled",
        acknowledged_while_full
    );
    let mut probe = Probe::sqlite(path)?;
    let integrity_while_full = probe.integrity_check()?.unwrap_or_default();
    // 3. The space returns.
    ballast.remove()?;
    let returned = Instant::now();
    let mut first_success = None;
    let recovered =
        wait_for("disk-full: an enqueue to succeed after the space returned", PATIENCE, || {
            let before = acknowledged.len();
            enqueue(caller, &mut next, &mut acknowledged, &mut refused, &mut refusals)?;
            if acknowledged.len() > before {
                first_success.get_or_insert(returned.elapsed());
            }
            Ok(first_success)
        })?;
    let integrity = probe.integrity_check()?.unwrap_or_default();
    ensure!(integrity == "ok", "disk-full: integrity_check after the space returned: {integrity}");
    for id in &refused {
        ensure!(caller.get(id)?.is_none(), "disk-full: the refused enqueue {id} was stored anyway");
    }
    let fresh = if ctx.quick { 20 } else { 200 };
    for _ in 0..fresh {
        enqueue(caller, &mut next, &mut acknowledged, &mut refused, &mut refusals)?;
    }
    all_succeed(caller, &acknowledged, "after the space returned")?;
    let resumed = returned.elapsed();
    let mut attempts = Vec::new();
    for id in &in_flight {
        attempts.push(caller.get(id)?.map_or(0, |record| record.attempt));
    }
    let wrong: u64 =
        refusals.iter().filter(|(kind, _)| *kind != "Unavailable").map(|(_, n)| n).sum();
    ensure!(
        wrong == 0,
        "disk-full: enqueues were refused with other errors than Unavailable: {refusals:?}"
    );
    report.say(format!(
        "disk-full: SQLite on a {DISK_MIB} MiB tmpfs filled by a ballast of {} KiB for {:.0} s \
         while a host ran tasks and a caller enqueued, then the ballast removed",
        ballast_kib,
        full_for.as_secs_f64()
    ));
    report.figure("attempts of the tasks running when the disk filled", format!("{attempts:?}"));
    report.figure(
        "enqueues while full (acknowledged / refused)",
        format!("{acknowledged_while_full} / {}", refused.len()),
    );
    report.figure("enqueue refusals (by kind)", format!("{refusals:?}"));
    report.figure(
        "integrity_check while full / after",
        format!("{integrity_while_full} / {integrity}"),
    );
    report.figure(
        "first enqueue accepted after the space returned",
        format!("{:.0} ms", recovered.as_secs_f64() * 1000.0),
    );
    report.figure(
        "every acknowledged task succeeded",
        format!(
            "{} tasks, {:.1} s after the space returned",
            acknowledged.len(),
            resumed.as_secs_f64()
        ),
    );
    Ok(())
}

/// Enqueues tasks that take a second and waits until they run; their ids.
fn slow_tasks(
    store: &dyn TaskStore,
    acknowledged: &mut Vec<TaskId>,
) -> Result<Vec<TaskId>, Violation> {
    let mut ids = Vec::new();
    for n in 0..4 {
        let id =
            TaskId::new(format!("disk-slow-{n}")).map_err(|error| Violation(error.to_string()))?;
        let task = NewTask::new(KIND, json!({ "part_ms": 400 }))
            .with_options(EnqueueOptions::new().id(id.clone()));
        store.enqueue(task, Timestamp::now_utc())?;
        ids.push(id);
    }
    for id in &ids {
        wait_for("disk-full: the slow tasks to start", PATIENCE, || {
            Ok(store.get(id)?.filter(|record| record.status == TaskStatus::Running))
        })?;
    }
    acknowledged.extend(ids.iter().cloned());
    Ok(ids)
}

/// Enqueues one task with a caller-chosen id; files it as acknowledged or refused.
fn enqueue(
    store: &dyn TaskStore,
    next: &mut u64,
    acknowledged: &mut Vec<TaskId>,
    refused: &mut Vec<TaskId>,
    refusals: &mut Refusals,
) -> Result<(), Violation> {
    let id =
        TaskId::new(format!("disk-{next:06}")).map_err(|error| Violation(error.to_string()))?;
    *next += 1;
    let task = NewTask::new(KIND, json!({ "pad": "i".repeat(4096) }))
        .with_options(EnqueueOptions::new().id(id.clone()));
    match store.enqueue(task, Timestamp::now_utc()) {
        Ok(_) => acknowledged.push(id),
        Err(error) => {
            *refusals.entry(format!("{:?}", error.kind())).or_default() += 1;
            refused.push(id);
        }
    }
    Ok(())
}

fn all_succeed(store: &dyn TaskStore, ids: &[TaskId], when: &str) -> Result<(), Violation> {
    for id in ids {
        let record = wait_for(&format!("disk-full: task {id} to finish {when}"), PATIENCE, || {
            Ok(store.get(id)?.filter(|record| record.status.is_terminal()))
        })?;
        ensure!(
            record.status == TaskStatus::Succeeded,
            "disk-full: task {id} ended {:?} {when}: {:?}",
            record.status,
            record.error
        );
    }
    Ok(())
}
