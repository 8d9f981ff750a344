//! Issue scenario 2, SIGKILL of workers mid-task, repeatedly: worker processes run tasks that
//! take a while; one after another, a worker holding tasks is killed with `SIGKILL` (no stop,
//! no release, no last write) and a fresh one takes its place. Every task must finish; each
//! task a killed worker held is rescued by another once its lease runs out, shows one more
//! attempt per kill, and says in its steps whose lease expired.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use tasks_core::{
    EnqueueOptions, NewTask, StepKind, StepQuery, TaskFilter, TaskId, TaskListQuery, TaskStatus,
    TaskStore, Timestamp,
};

use crate::faults_support::history::{self, Event, HistoryLog};
use crate::faults_support::probe::{all_records, wait_until_finished};
use crate::faults_support::stores::StoreFixture;
use crate::faults_support::wait::{ms, percentile};
use crate::faults_support::work::{WORK_KIND, WorkInput};
use crate::faults_support::worker::{Worker, WorkerArgs, read_all};
use crate::{Ctx, Report, Violation, ensure};

/// Tasks, kills, time between kills.
fn sizes(ctx: &Ctx) -> (u32, u32, Duration) {
    if ctx.quick { (30, 3, Duration::from_millis(800)) } else { (400, 20, Duration::from_secs(1)) }
}

const WORKERS: usize = 3;
const LEASE: Duration = Duration::from_millis(2000);

/// A worker killed, and the tasks it held when it died.
struct Kill {
    runner: String,
    at: Timestamp,
    orphans: Vec<TaskId>,
}

fn worker_args(fixture: &StoreFixture, generation: usize) -> WorkerArgs {
    let runner = format!("sigkill-{generation}");
    let mut args = WorkerArgs::new(
        fixture.spec.clone(),
        runner.clone(),
        fixture.file(&format!("{runner}.log")),
    );
    args.concurrency = 4;
    args.lease = LEASE;
    args.heartbeat = Duration::from_millis(200);
    args.recover_every = Duration::from_millis(200);
    args.max_attempts = 25;
    args
}

/// The tasks `runner` holds now (claimed or running under its lease).
fn held_by(store: &dyn TaskStore, runner: &str) -> Result<Vec<TaskId>, Violation> {
    let filter = TaskFilter {
        statuses: vec![TaskStatus::Claimed, TaskStatus::Running],
        ..TaskFilter::all()
    };
    let active = store.list(&TaskListQuery::filtered(filter).limit(1000))?;
    Ok(active
        .into_iter()
        .filter(|record| record.lease_owner.as_deref() == Some(runner))
        .map(|record| record.id)
        .collect())
}

pub(super) fn run(ctx: &Ctx) -> Result<Report, Violation> {
    let (tasks, kills_wanted, kill_every) = sizes(ctx);
    let fixture = StoreFixture::new(ctx.store)?;
    let probe = fixture.spec.open((2, 1))?.as_dyn();
    let parent_log = fixture.file("parent.log");
    let enqueues = HistoryLog::create(&parent_log)?;
    let input = WorkInput { work_ms: 1200, steps: 4, progress: 4, ..WorkInput::default() };
    let batch: Vec<NewTask> = (0..tasks)
        .map(|n| {
            let options = EnqueueOptions::new().id(TaskId::new(format!("k{n}"))?).max_attempts(25);
            Ok(NewTask::new(WORK_KIND, input.to_json()).with_options(options))
        })
        .collect::<Result<_, Violation>>()?;
    for outcome in probe.enqueue_batch(batch, Timestamp::now_utc())? {
        enqueues.log(Event::Enqueued { id: outcome.task.id.to_string() });
    }

    let mut generation = 0;
    let mut workers: Vec<Worker> = Vec::new();
    let mut logs = Vec::new();
    while workers.len() < WORKERS {
        let args = worker_args(&fixture, generation);
        logs.push(args.log.clone());
        workers.push(Worker::start(args)?);
        generation += 1;
    }
    let mut kills: Vec<Kill> = Vec::new();
    let mut last_kill = Instant::now();
    let mut victim = 0;
    let started = Instant::now();
    wait_until_finished(
        &*probe,
        u64::from(tasks),
        Duration::from_secs(90),
        Duration::from_secs(if ctx.quick { 240 } else { 1800 }),
        |_| {
            if kills.len() >= kills_wanted as usize || last_kill.elapsed() < kill_every {
                return Ok(());
            }
            // Kill a worker that holds work: the point is to orphan tasks mid-run.
            victim = (victim + 1) % workers.len();
            if held_by(&*probe, workers[victim].runner())?.is_empty() {
                return Ok(());
            }
            let args = worker_args(&fixture, generation);
            generation += 1;
            logs.push(args.log.clone());
            let doomed = std::mem::replace(&mut workers[victim], Worker::start(args)?);
            let runner = doomed.runner().to_owned();
            let at = Timestamp::now_utc();
            doomed.kill()?;
            // Dead now: nothing changes its tasks until their leases run out.
            let orphans = held_by(&*probe, &runner)?;
            kills.push(Kill { runner, at, orphans });
            last_kill = Instant::now();
            Ok(())
        },
    )?;
    let drained = started.elapsed();
    for worker in workers {
        worker.stop()?;
    }
    ensure!(
        kills.len() == kills_wanted as usize,
        "only {} of {kills_wanted} kills happened before the work ran out",
        kills.len()
    );

    let records = all_records(&*probe)?;
    let killed: HashMap<&str, &Kill> =
        kills.iter().map(|kill| (kill.runner.as_str(), kill)).collect();
    let mut expiries_of_live_runners = 0;
    let mut recoveries = Vec::new();
    let mut queue_waits = Vec::new();
    let mut orphan_attempts: BTreeMap<u32, usize> = BTreeMap::new();
    for (id, record) in &records {
        ensure!(
            record.status == TaskStatus::Succeeded,
            "task {id} ended {} (attempt {}): {:?}",
            record.status.as_str(),
            record.attempt,
            record.error
        );
        let steps = probe.list_steps(&record.id, &StepQuery::after(0, 10_000))?;
        let expired: Vec<&str> = steps
            .iter()
            .filter(|step| step.kind == StepKind::Event && step.message.contains("expired"))
            .map(|step| step.message.as_str())
            .collect();
        ensure!(
            record.attempt as usize == 1 + expired.len(),
            "task {id} succeeded at attempt {} with {} lease expiries in its steps: {expired:?}",
            record.attempt,
            expired.len()
        );
        expiries_of_live_runners += expired
            .iter()
            .filter(|message| {
                !killed.keys().any(|runner| message.contains(&format!("of {runner} ")))
            })
            .count();
    }
    let mut orphans = 0;
    for kill in &kills {
        for id in &kill.orphans {
            orphans += 1;
            let record = records
                .get(id.as_str())
                .ok_or_else(|| Violation(format!("orphaned task {id} is gone")))?;
            ensure!(record.attempt >= 2, "orphaned task {id} finished at attempt 1");
            *orphan_attempts.entry(record.attempt).or_default() += 1;
            let steps = probe.list_steps(id, &StepQuery::after(0, 10_000))?;
            let reason = format!("lease of {} expired", kill.runner);
            let recovered = steps
                .iter()
                .find(|step| step.kind == StepKind::Event && step.message.contains(&reason))
                .ok_or_else(|| {
                    Violation(format!("orphaned task {id} has no step saying the {reason}"))
                })?;
            // The step is written by the recovery: how long the orphan waited for it.
            recoveries.push(recovered.created_at.duration_since(kill.at));
            // Rescued once and never again: its last start is the rescue, after its turn in the
            // queue (a recovered task is due at once, behind the tasks already due).
            if let Some(rescued) = record.started_at.filter(|_| record.attempt == 2) {
                queue_waits.push(rescued.duration_since(recovered.created_at));
            }
        }
    }
    ensure!(orphans > 0, "no kill caught a worker holding a task");

    let mut paths = vec![parent_log.as_path()];
    paths.extend(logs.iter().map(|path| path.as_path()));
    let lines = read_all(&paths)?;
    let verdict = history::check(&lines, &records);
    ensure!(verdict.is_clean(), "the history check failed: {}", verdict.problems());

    let mut report = Report::new();
    report.say(format!(
        "{tasks} tasks of ~1.2 s on {} worker processes ({} lease); a worker holding tasks \
         killed with SIGKILL every {} ms and replaced, {} times",
        WORKERS,
        ms(LEASE),
        kill_every.as_millis(),
        kills.len()
    ));
    report
        .figure("tasks succeeded", records.len())
        .figure("tasks orphaned by a kill", orphans)
        .figure(
            "attempts of orphaned tasks",
            orphan_attempts
                .iter()
                .map(|(attempt, count)| format!("{count} at attempt {attempt}"))
                .collect::<Vec<_>>()
                .join(", "),
        )
        .figure("lease expiries of runners that were not killed", expiries_of_live_runners)
        .figure(
            "kill to recovery (lease expired, task requeued) p50 / max",
            format!(
                "{} / {}",
                ms(percentile(&recoveries, 50.0)),
                ms(percentile(&recoveries, 100.0))
            ),
        )
        .figure(
            "recovery to the rescue's start (its turn in the queue) p50 / max",
            format!(
                "{} / {}",
                ms(percentile(&queue_waits, 50.0)),
                ms(percentile(&queue_waits, 100.0))
            ),
        )
        .figure("finished twice", verdict.finished_twice.len())
        .figure("time to drain", format!("{:.1} s", drained.as_secs_f64()));
    Ok(report)
}
