//! Supersede against a running task: a task A runs on a host; after a random delay around its
//! end, a task B supersedes A's key, from A's own host (which tells A at once) or from another
//! store handle (A's host learns on its next heartbeat). Whatever the interleaving:
//!
//! - B lists A in `supersededTaskIds` exactly when A was still open at B's enqueue: then A
//!   carries `cancelRequestedAt` and ends cancelled, or succeeded when its output came first
//!   (the output wins); otherwise A had already succeeded, with no cancel request;
//! - A never fails and never runs twice; B runs to success.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tasks_core::{EnqueueOptions, NewTask, TaskId, TaskRecord, TaskStatus, TaskStore, Timestamp};
use tasks_exec_inproc::{InProcessExecutor, TaskContext, TaskFailure, TaskHandler};
use tasks_host::{HandlerRegistration, TaskHost};

use crate::abuse_support::runtime::{Rng, runner, runtime, wait_for};
use crate::abuse_support::stats::Latencies;
use crate::abuse_support::store::StoreUnderTest;
use crate::{Report, Violation, ensure};

const KIND: &str = "race.supersede";
/// How long a test waits for something that takes milliseconds: it catches a hang only.
const PATIENCE: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct Work {
    work_us: u64,
}

/// Works for `work_us`, stopping at once on a cancel; tells the scenario when it starts.
struct Supersedable {
    started: Sender<TaskId>,
}

impl TaskHandler for Supersedable {
    type Input = Work;
    type Output = Value;

    async fn run(&self, input: Work, ctx: TaskContext) -> Result<Value, TaskFailure> {
        let _ = self.started.send(ctx.id().clone());
        tokio::select! {
            () = tokio::time::sleep(Duration::from_micros(input.work_us)) => Ok(json!({ "done": true })),
            () = ctx.cancelled() => Err(TaskFailure::cancelled("superseded")),
        }
    }
}

/// How a round ended for A.
#[derive(Default)]
struct Tally {
    cancelled: u32,
    output_won: u32,
    finished_before: u32,
    local_latency: Vec<Duration>,
    remote_latency: Vec<Duration>,
}

pub(super) fn run(
    store: &StoreUnderTest,
    rounds: u32,
    report: &mut Report,
) -> Result<(), Violation> {
    let runtime = runtime()?;
    let host_store = store.open(4)?;
    let other = store.open(2)?;
    let (started, starts) = channel();
    let registration =
        HandlerRegistration::new(KIND, InProcessExecutor::new(Supersedable { started }))
            .concurrency(4);
    let options = runner("race-supersede", 4).heartbeat(Duration::from_millis(100));
    let host = TaskHost::builder_from_arc(Arc::clone(&host_store))
        .options(options)
        .handler(registration)
        .build()?;
    runtime.block_on(host.start())?;
    let result = rounds_on(&runtime, &host, &*other, &starts, rounds);
    runtime.block_on(host.stop())?;
    drop(host);
    let tally = result?;
    report.say(format!(
        "supersede: {rounds} tasks superseded at random moments around their end while running, \
         half from their own host, half from another store handle"
    ));
    report.figure(
        "supersede outcomes (cancelled / output won / finished before)",
        format!("{} / {} / {}", tally.cancelled, tally.output_won, tally.finished_before),
    );
    report.figure("supersede to end, same host", Latencies::of(&tally.local_latency));
    report.figure("supersede to end, other handle", Latencies::of(&tally.remote_latency));
    Ok(())
}

fn rounds_on(
    runtime: &tokio::runtime::Runtime,
    host: &TaskHost,
    other: &dyn TaskStore,
    starts: &Receiver<TaskId>,
    rounds: u32,
) -> Result<Tally, Violation> {
    let mut rng = Rng::from_clock();
    let mut tally = Tally::default();
    for round in 0..rounds {
        let key = format!("sk-{round}");
        let work_us = rng.below(6000);
        let a = runtime
            .block_on(host.enqueue(
                KIND,
                &json!({ "work_us": work_us }),
                EnqueueOptions::new().supersede_key(key.clone()),
            ))?
            .task;
        wait_started(starts, &a.id)?;
        std::thread::sleep(Duration::from_micros(rng.below(work_us + 2000)));
        let local = round % 2 == 0;
        let b_options = EnqueueOptions::new().supersede(key.clone());
        let b = if local {
            runtime.block_on(host.enqueue(KIND, &json!({ "work_us": 0 }), b_options))?
        } else {
            let task = NewTask::new(KIND, json!({ "work_us": 0 })).with_options(b_options);
            other.enqueue(task, Timestamp::now_utc())?
        };
        let a_end = finished(other, &a.id)?;
        let b_end = finished(other, &b.task.id)?;
        let listed = b.superseded_task_ids.contains(&a.id);
        ensure!(
            b.superseded_task_ids.iter().all(|id| *id == a.id),
            "supersede round {round}: B superseded tasks other than A: {:?}",
            b.superseded_task_ids
        );
        ensure!(
            b_end.status == TaskStatus::Succeeded && b_end.attempt == 1,
            "supersede round {round}: B ended {:?} after {} attempts",
            b_end.status,
            b_end.attempt
        );
        ensure!(a_end.attempt == 1, "supersede round {round}: A ran {} attempts", a_end.attempt);
        if listed {
            ensure!(
                a_end.cancel_requested_at.is_some(),
                "supersede round {round}: A was superseded but carries no cancel request"
            );
            match a_end.status {
                TaskStatus::Cancelled => tally.cancelled += 1,
                TaskStatus::Succeeded => tally.output_won += 1,
                other => {
                    return Err(Violation(format!(
                        "supersede round {round}: superseded A ended {other:?}"
                    )));
                }
            }
            let latency = a_end
                .finished_at
                .map(|at| at.duration_since(b.task.created_at))
                .unwrap_or_default();
            if local {
                tally.local_latency.push(latency);
            } else {
                tally.remote_latency.push(latency);
            }
        } else {
            // Not listed: B's transaction found A already finished. (Its `finishedAt` may still
            // be a millisecond past B's `createdAt`: each took its time before committing.)
            ensure!(
                a_end.status == TaskStatus::Succeeded && a_end.cancel_requested_at.is_none(),
                "supersede round {round}: A was not superseded, yet ended {:?} with cancel \
                 request {:?}",
                a_end.status,
                a_end.cancel_requested_at
            );
            tally.finished_before += 1;
        }
    }
    Ok(tally)
}

fn wait_started(starts: &Receiver<TaskId>, id: &TaskId) -> Result<(), Violation> {
    loop {
        match starts.recv_timeout(PATIENCE) {
            Ok(started) if started == *id => return Ok(()),
            Ok(_) => {}
            Err(_) => return Err(Violation(format!("supersede: task {id} never started"))),
        }
    }
}

fn finished(store: &dyn TaskStore, id: &TaskId) -> Result<TaskRecord, Violation> {
    wait_for(&format!("supersede: task {id} to finish"), PATIENCE, || {
        Ok(store.get(id)?.filter(|record| record.status.is_terminal()))
    })
}
