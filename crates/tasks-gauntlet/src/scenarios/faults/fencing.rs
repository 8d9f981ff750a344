//! Issue scenario 3, fencing: a worker process frozen with `SIGSTOP` past its lease while it
//! runs three tasks (one silent, one reporting progress and steps all the time, one about to
//! finish). Another worker rescues the tasks once the leases run out and finishes them. Then
//! the frozen worker is thawed with `SIGCONT`: its heartbeats, progress, steps and final writes
//! must change nothing in the store (each refused as `LeaseLost`), it must stop the executions
//! (the handlers see their cancel signal), and it must carry on as a healthy host.
//!
//! The same stale leases are also presented directly to the store for every worker-side write,
//! so each kind of write is shown refused whatever order the thawed host happens to try them in.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::json;
use tasks_core::{
    EnqueueOptions, Lease, NewStep, NewTask, ProgressUpdate, StepQuery, StepRecord, StoreError,
    StoreErrorKind, TaskError, TaskId, TaskRecord, TaskStatus, TaskStore, Timestamp,
};

use crate::faults_support::history::{Event, Line};
use crate::faults_support::stores::StoreFixture;
use crate::faults_support::wait::wait_for;
use crate::faults_support::work::{WORK_KIND, WorkInput};
use crate::faults_support::worker::{PATIENCE, Worker, WorkerArgs};
use crate::{Ctx, Report, Violation, ensure};

const LEASE: Duration = Duration::from_millis(2000);

/// The three tasks: name, input.
fn tasks() -> [(&'static str, WorkInput); 3] {
    let base = WorkInput { first_attempt_only: true, ..WorkInput::default() };
    [
        ("silent", WorkInput { hang: true, ..base.clone() }),
        ("reporting", WorkInput { hang: true, tick_ms: 25, ..base.clone() }),
        // Its work ends while the worker is frozen: thawed, it returns its output at once.
        ("finishing", WorkInput { work_ms: 2500, ..base }),
    ]
}

fn worker(fixture: &StoreFixture, runner: &str) -> WorkerArgs {
    let mut args =
        WorkerArgs::new(fixture.spec.clone(), runner, fixture.file(&format!("{runner}.log")));
    args.lease = LEASE;
    args.heartbeat = Duration::from_millis(200);
    args.log_writes = true;
    args
}

/// Each record and its steps, to compare before and after the thaw.
type Picture = BTreeMap<String, (TaskRecord, Vec<StepRecord>)>;

fn picture(store: &dyn TaskStore, ids: &[TaskId]) -> Result<Picture, Violation> {
    let mut picture = BTreeMap::new();
    for id in ids {
        let record = store.get(id)?.ok_or_else(|| Violation(format!("task {id} disappeared")))?;
        let steps = store.list_steps(id, &StepQuery::after(0, 10_000))?;
        picture.insert(id.to_string(), (record, steps));
    }
    Ok(picture)
}

/// Presents `lease` to every worker-side write; each must be refused as `LeaseLost`.
fn stale_writes(store: &dyn TaskStore, lease: &Lease) -> Result<usize, Violation> {
    let now = Timestamp::now_utc();
    let writes: Vec<(&str, Result<(), StoreError>)> = vec![
        ("start", store.start(lease, now).map(drop)),
        ("heartbeat", store.heartbeat(lease, LEASE, now).map(drop)),
        ("set_progress", store.set_progress(lease, &ProgressUpdate::percent(99.0), now).map(drop)),
        ("append_steps", store.append_steps(lease, &[NewStep::info("fenced")], now).map(drop)),
        ("complete", store.complete(lease, json!({ "fenced": true }), now).map(drop)),
        ("fail", store.fail(lease, TaskError::new("fenced"), None, now).map(drop)),
        ("acknowledge_cancel", store.acknowledge_cancel(lease, None, now).map(drop)),
        ("release", store.release(lease, now).map(drop)),
    ];
    let count = writes.len();
    for (op, result) in writes {
        match result {
            Err(error) if error.kind() == StoreErrorKind::LeaseLost => {}
            other => {
                return Err(Violation(format!(
                    "{op} with the stale lease of task {} gave {other:?}, not LeaseLost",
                    lease.task_id
                )));
            }
        }
    }
    Ok(count)
}

pub(super) fn run(ctx: &Ctx) -> Result<Report, Violation> {
    let fixture = StoreFixture::new(ctx.store)?;
    let probe = fixture.spec.open((2, 1))?.as_dyn();
    let mut frozen = Worker::start(worker(&fixture, "fence-a"))?;
    let mut names = HashMap::new();
    let mut ids = Vec::new();
    for (name, input) in tasks() {
        let id = TaskId::new(format!("fence-{name}"))?;
        let options = EnqueueOptions::new().id(id.clone()).max_attempts(3);
        probe.enqueue(
            NewTask::new(WORK_KIND, input.to_json()).with_options(options),
            Timestamp::now_utc(),
        )?;
        names.insert(id.to_string(), name);
        ids.push(id);
    }
    for id in &ids {
        let wanted = id.to_string();
        frozen.wait_for_line(
            "running every task",
            |event| matches!(event, Event::Ran { id, .. } if *id == wanted),
        )?;
    }
    frozen.signal("STOP")?;
    let frozen_at = Timestamp::now_utc();
    let held = picture(&*probe, &ids)?;
    let mut leases = Vec::new();
    for (id, (record, _)) in &held {
        ensure!(
            record.status == TaskStatus::Running
                && record.lease_owner.as_deref() == Some("fence-a"),
            "task {id} was not running on the worker when it froze: {:?} owned by {:?}",
            record.status,
            record.lease_owner
        );
        leases.push(record.lease().ok_or_else(|| Violation(format!("task {id} has no lease")))?);
    }

    // The rescuer recovers the tasks once the frozen worker's leases run out, and finishes them.
    let rescuer = Worker::start(worker(&fixture, "fence-b"))?;
    let rescued =
        wait_for("the rescuer to finish every task", PATIENCE, Duration::from_millis(50), || {
            let now = picture(&*probe, &ids)?;
            let done = now.values().all(|(record, _)| record.status == TaskStatus::Succeeded);
            Ok(if done {
                Ok(now)
            } else {
                Err(format!("{:?}", now.values().map(|(r, _)| r.status).collect::<Vec<_>>()))
            })
        })?;
    let rescued_at = Timestamp::now_utc();
    for (id, (record, steps)) in &rescued {
        ensure!(
            record.attempt == 2 && record.lease_owner.as_deref() == Some("fence-b"),
            "task {id} was finished as attempt {} by {:?}, not attempt 2 by the rescuer",
            record.attempt,
            record.lease_owner
        );
        ensure!(
            steps.iter().any(|step| step.message.contains("lease of fence-a expired")),
            "task {id} has no step saying the frozen worker's lease expired"
        );
    }
    let mut direct_refusals = 0;
    for lease in &leases {
        direct_refusals += stale_writes(&*probe, lease)?;
    }
    ensure!(picture(&*probe, &ids)? == rescued, "writes with stale leases changed the store");

    // Thaw: the worker finds out it lost every lease, and stops its executions.
    // Stamped before the signal: the frozen process can log nothing in between.
    let thawed_at = Timestamp::now_utc().as_millis();
    frozen.signal("CONT")?;
    for id in &ids {
        let wanted = id.to_string();
        frozen.wait_for_line(
            "being told it lost the lease",
            |event| matches!(event, Event::LeaseLost { id, .. } if *id == wanted),
        )?;
    }
    for (id, name) in &names {
        if *name != "finishing" {
            let wanted = id.clone();
            frozen.wait_for_line(
                "stopping the handler",
                |event| matches!(event, Event::Cancelled { id, attempt: 1 } if *id == wanted),
            )?;
        }
    }
    // Whatever else the thawed worker had in flight has landed (or not) by now: it goes on
    // serving. Give it a task of its own to show it.
    rescuer.stop()?;
    let fresh = TaskId::new("fence-after")?;
    let options = EnqueueOptions::new().id(fresh.clone());
    probe
        .enqueue(NewTask::new(WORK_KIND, json!({})).with_options(options), Timestamp::now_utc())?;
    wait_for("the thawed worker to run a new task", PATIENCE, Duration::from_millis(50), || {
        let record = probe.get(&fresh)?;
        Ok(match record {
            Some(record) if record.status == TaskStatus::Succeeded => Ok(record),
            other => Err(format!("{:?}", other.map(|record| record.status))),
        })
    })?;
    let history = frozen.stop()?;
    ensure!(
        picture(&*probe, &ids)? == rescued,
        "the thawed worker changed the store after its leases were taken"
    );

    let after_thaw: Vec<&Line> = history.iter().filter(|line| line.at >= thawed_at).collect();
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    for line in &after_thaw {
        let Event::Write { op, id, result } = &line.event else { continue };
        if !names.contains_key(id) {
            continue;
        }
        ensure!(
            result == "LeaseLost",
            "after the thaw, the frozen worker's {op} of task {id} gave {result}, not LeaseLost"
        );
        *refused.entry(op.clone()).or_default() += 1;
    }
    for id in names.keys() {
        let tried = after_thaw
            .iter()
            .any(|line| matches!(&line.event, Event::Write { id: written, .. } if written == id));
        ensure!(
            tried,
            "the thawed worker never tried to write task {id}: nothing was fenced (its log after \
             the thaw: {})",
            after_thaw.iter().map(ToString::to_string).collect::<Vec<_>>().join(" | ")
        );
        let finished = history
            .iter()
            .any(|line| matches!(&line.event, Event::Finished { id: done, .. } if done == id));
        ensure!(!finished, "the frozen worker reported task {id} finished");
    }

    let mut report = Report::new();
    report.say(format!(
        "a worker running 3 tasks (silent, reporting every 25 ms, about to finish) frozen with \
         SIGSTOP past its {} ms lease; another recovered and finished them; then SIGCONT",
        LEASE.as_millis()
    ));
    report
        .figure(
            "frozen for",
            format!(
                "{:.1} s (until the rescue was done)",
                rescued_at.duration_since(frozen_at).as_secs_f64()
            ),
        )
        .figure("rescued tasks (attempt 2, expiry step)", rescued.len())
        .figure("stale-lease writes presented directly, all refused LeaseLost", direct_refusals)
        .figure(
            "writes the thawed worker tried, all refused LeaseLost (an attempt stops at its \
             first refused write)",
            refused
                .iter()
                .map(|(op, count)| format!("{op} x{count}"))
                .collect::<Vec<_>>()
                .join(", "),
        )
        .figure("handlers stopped by their cancel signal", names.len() - 1)
        .figure("store changes after the thaw", 0)
        .figure("the thawed worker ran a new task", "yes");
    Ok(report)
}
