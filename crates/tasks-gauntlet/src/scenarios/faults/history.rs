//! Issue scenario 1, the history check: several host processes share one store, each
//! enqueues its share of the tasks while all of them claim and run tasks; every enqueue
//! acknowledged, every start and every finish is logged by the process that saw it. A checker
//! then reads every log and the store: 0 acknowledged tasks lost, 0 finished twice, no attempt
//! started twice, no task run again without a lost lease to allow it.
//!
//! Full: 8 processes x 25,000 tasks on PostgreSQL, 2 x 10,000 on SQLite.

use std::time::{Duration, Instant};

use crate::faults_support::history::{self, Event};
use crate::faults_support::probe::{all_records, wait_until_finished};
use crate::faults_support::stores::StoreFixture;
use crate::faults_support::wait::rate;
use crate::faults_support::worker::{Worker, WorkerArgs};
use crate::{Ctx, Report, StoreKind, Violation, ensure};

/// Processes and tasks per process.
fn sizes(ctx: &Ctx) -> (u32, u64) {
    match (ctx.store, ctx.quick) {
        (StoreKind::Postgres, false) => (8, 25_000),
        (StoreKind::Sqlite, false) => (2, 10_000),
        (StoreKind::Postgres, true) => (4, 250),
        (StoreKind::Sqlite, true) => (2, 250),
    }
}

pub(super) fn run(ctx: &Ctx) -> Result<Report, Violation> {
    let (processes, per_process) = sizes(ctx);
    let expected = u64::from(processes) * per_process;
    let fixture = StoreFixture::new(ctx.store)?;
    let probe = fixture.spec.open((2, 1))?.as_dyn();
    let started = Instant::now();
    let mut workers = Vec::new();
    for n in 0..processes {
        let log = fixture.file(&format!("history-{n}.log"));
        let mut args = WorkerArgs::new(fixture.spec.clone(), format!("history-{n}"), log);
        args.enqueue = per_process;
        args.prefix = format!("h{n}");
        args.concurrency = 16;
        // No fault here: leases long enough that a loaded machine never lets one run out.
        args.lease = Duration::from_secs(30);
        args.heartbeat = Duration::from_secs(5);
        workers.push(Worker::start(args)?);
    }
    let give_up = if ctx.quick { Duration::from_secs(300) } else { Duration::from_secs(3600) };
    wait_until_finished(&*probe, expected, Duration::from_secs(120), give_up, |_| Ok(()))?;
    let took = started.elapsed();
    let mut lines = Vec::new();
    for worker in workers {
        lines.extend(worker.stop()?);
    }
    let records = all_records(&*probe)?;
    let verdict = history::check(&lines, &records);
    let count = |check: fn(&Event) -> bool| lines.iter().filter(|line| check(&line.event)).count();
    let ran = count(|event| matches!(event, Event::Ran { .. }));
    ensure!(verdict.is_clean(), "the history check failed: {}", verdict.problems());
    ensure!(
        verdict.enqueued as u64 == expected && records.len() as u64 == expected,
        "{expected} tasks were to be enqueued; the logs acknowledge {} and the store holds {}",
        verdict.enqueued,
        records.len()
    );
    ensure!(
        verdict.success_not_logged == 0,
        "{} successes the store holds were not logged by any host",
        verdict.success_not_logged
    );
    let mut report = Report::new();
    report.say(format!(
        "{processes} host processes x {per_process} tasks on {}, each enqueueing its share \
         (batches of 500) while all claim and run; every enqueue, start and finish logged",
        ctx.store
    ));
    report
        .figure("tasks", expected)
        .figure("acknowledged enqueues", verdict.enqueued)
        .figure("succeeded in the store", verdict.succeeded)
        .figure("lost", verdict.lost.len())
        .figure("finished twice", verdict.finished_twice.len())
        .figure("attempts started twice", verdict.started_twice.len())
        .figure("starts logged", verdict.starts)
        .figure("handler runs", ran)
        .figure("tasks run again after a lost lease", verdict.rerun)
        .figure("time to drain", format!("{:.1} s", took.as_secs_f64()))
        .figure("throughput (enqueue to finish, all processes)", rate(expected as usize, took));
    Ok(report)
}
