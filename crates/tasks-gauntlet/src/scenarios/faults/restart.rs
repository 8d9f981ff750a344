//! Issue scenario 4, PostgreSQL stopped with `pg_ctl stop -m immediate` (a crash: no
//! checkpoint, sessions cut) and started again mid-run, twice, on a cluster the scenario owns.
//! Host processes enqueue and run tasks throughout. No host may panic; they must recover on
//! their own (nobody restarts them), throughput must come back, and nothing acknowledged may be
//! lost or finished twice.

use std::time::{Duration, Instant};

use serde_json::json;
use tasks_core::{NewTask, TaskStatus, TaskStore, Timestamp};

use crate::faults_support::history::{self, Event};
use crate::faults_support::probe::{all_records, finished, wait_until_finished};
use crate::faults_support::stores::{StoreFixture, own_cluster};
use crate::faults_support::wait::{ms, rate};
use crate::faults_support::work::{WORK_KIND, WorkInput, ping_kind};
use crate::faults_support::worker::{Worker, WorkerArgs, read_all};
use crate::{Ctx, Report, Violation, ensure};

/// How long the server stays down each time.
const DOWN: Duration = Duration::from_millis(1500);
/// How long each host has to run its own task after the work is done.
const PING_PATIENCE: Duration = Duration::from_secs(60);
/// The workers' lease: a final write that could not land while the server was down leaves its
/// task to be recovered once this runs out.
const LEASE: Duration = Duration::from_secs(3);

/// Processes, tasks per process, and how long each task works (ms).
///
/// The quick run's work must outlast several of the probe's 100 ms polls after the first
/// restart, or the probe may never see the count between the two triggers: with 600 tasks of
/// 20 ms on 96 slots the hosts ran out the work in about 100 ms once the server was back, and
/// the second restart never came.
fn sizes(ctx: &Ctx) -> (u32, u64, u64) {
    if ctx.quick { (3, 400, 100) } else { (4, 5_000, 20) }
}

/// One outage: when the server went down and came back, and when the first task finished after.
#[derive(Default)]
struct Outage {
    finished_before: u64,
    down_at: Option<Instant>,
    up_at: Option<Instant>,
    /// The same instant as Unix milliseconds, to compare with history lines.
    up_wall: i64,
    recovered_after: Option<Duration>,
}

/// Tasks finished per second in the 2 s from `from`, from the counts sampled while waiting.
fn window_rate(samples: &[(Instant, u64)], from: Instant) -> String {
    let at =
        |instant: Instant| samples.iter().take_while(|(seen, _)| *seen <= instant).last().copied();
    match (at(from), at(from + Duration::from_secs(2))) {
        (Some((start, before)), Some((end, after))) if end > start => {
            rate((after - before) as usize, end.duration_since(start))
        }
        _ => "n/a (the work ran out first)".to_owned(),
    }
}

pub(super) fn run(ctx: &Ctx) -> Result<Report, Violation> {
    let (processes, per_process, work_ms) = sizes(ctx);
    let expected = u64::from(processes) * per_process;
    // Durable settings: the point is that acknowledged commits survive the crash.
    let mut cluster = own_cluster(&[("max_connections", "200")])?;
    let fixture = StoreFixture::on_cluster(&cluster)?;
    let probe = fixture.spec.open((2, 1))?.as_dyn();
    let input = WorkInput { work_ms, steps: 1, progress: 1, ..WorkInput::default() };
    let mut workers = Vec::new();
    let mut logs = Vec::new();
    for n in 0..processes {
        let log = fixture.file(&format!("restart-{n}.log"));
        let mut args = WorkerArgs::new(fixture.spec.clone(), format!("restart-{n}"), log.clone());
        args.enqueue = per_process;
        args.batch = 100;
        args.prefix = format!("r{n}");
        args.input = input.to_json();
        args.lease = LEASE;
        args.heartbeat = Duration::from_millis(300);
        logs.push(log);
        workers.push(Worker::start(args)?);
    }

    let started = Instant::now();
    let mut outages: Vec<Outage> = Vec::new();
    // Stop the server once a quarter of the work is done, and again at 60 %.
    let triggers = [expected / 4, expected * 3 / 5];
    let mut last_done = 0u64;
    let mut samples: Vec<(Instant, u64)> = Vec::new();
    let mut restart_error: Option<Violation> = None;
    wait_until_finished(
        &*probe,
        expected,
        Duration::from_secs(120),
        Duration::from_secs(if ctx.quick { 300 } else { 3600 }),
        |seen| {
            if let Some(counts) = seen {
                last_done = finished(counts);
                samples.push((Instant::now(), last_done));
            }
            let current = outages.last_mut();
            match current {
                Some(outage) if outage.up_at.is_none() => {
                    if outage.down_at.is_some_and(|at| at.elapsed() >= DOWN) {
                        cluster.start_again().map_err(Violation)?;
                        outage.up_at = Some(Instant::now());
                        outage.up_wall = tasks_core::Timestamp::now_utc().as_millis();
                    }
                }
                Some(outage) if outage.recovered_after.is_none() => {
                    if seen.is_some() && last_done > outage.finished_before {
                        let up = outage.up_at.unwrap_or_else(Instant::now);
                        outage.recovered_after = Some(up.elapsed());
                    }
                }
                _ => {
                    if let Some(&at) = triggers.get(outages.len())
                        && seen.is_some()
                        && last_done >= at
                    {
                        if let Err(error) = cluster.stop_immediate() {
                            restart_error = Some(Violation(error));
                        }
                        outages.push(Outage {
                            finished_before: last_done,
                            down_at: Some(Instant::now()),
                            ..Outage::default()
                        });
                    }
                }
            }
            match restart_error.take() {
                Some(error) => Err(error),
                None => Ok(()),
            }
        },
    )?;
    let done_at = Instant::now();
    let took = done_at.duration_since(started);
    ensure!(
        outages.len() == 2,
        "only {} of 2 restarts happened before the work ran out",
        outages.len()
    );
    let last_up = outages.last().and_then(|outage| outage.up_at).unwrap_or(started);
    let last_up_ms = outages.last().map_or(0, |outage| outage.up_wall);
    // Every host recovered by itself: each runs a task that only it handles. (Counting each
    // host's finishes after the restart is no proof: the others may have run out the work
    // before a host's first claim.)
    let pinged = ping_every_host(&*probe, processes)?;
    let mut lines = Vec::new();
    for worker in workers {
        lines.extend(worker.stop()?);
    }
    let mut records = all_records(&*probe)?;
    records.retain(|_, record| record.kind == WORK_KIND);
    let verdict = history::check(&lines, &records);
    ensure!(verdict.is_clean(), "the history check failed: {}", verdict.problems());
    for (id, record) in &records {
        ensure!(
            record.status == tasks_core::TaskStatus::Succeeded,
            "task {id} ended {} : {:?}",
            record.status.as_str(),
            record.error
        );
    }
    ensure!(
        verdict.enqueued + verdict.unacknowledged == expected as usize,
        "{expected} tasks were to be enqueued; {} acknowledged and {} stored unacknowledged",
        verdict.enqueued,
        verdict.unacknowledged
    );
    let finished_after: Vec<String> = (0..processes)
        .map(|n| {
            let runner = format!("restart-{n}");
            lines
                .iter()
                .filter(|line| line.at >= last_up_ms)
                .filter(|line| {
                    matches!(&line.event, Event::Finished { runner: who, .. } if *who == runner)
                })
                .count()
                .to_string()
        })
        .collect();
    let errors_logged = read_all(&logs.iter().map(|path| path.as_path()).collect::<Vec<_>>())?
        .iter()
        .filter(|line| matches!(line.event, Event::Note { .. }))
        .count();

    let first_down = outages[0].down_at.unwrap_or(started);
    let before = outages[0].finished_before;
    let mut report = Report::new();
    report.say(format!(
        "{processes} host processes x {per_process} tasks (20 ms each) on a cluster of our own; \
         the server stopped with -m immediate and restarted after {} ms, at 25 % and 60 % done",
        DOWN.as_millis()
    ));
    report
        .figure("tasks succeeded", records.len())
        .figure("acknowledged enqueues", verdict.enqueued)
        .figure("stored by a try whose answer was lost", verdict.unacknowledged)
        .figure("lost", verdict.lost.len())
        .figure("finished twice", verdict.finished_twice.len())
        .figure("tasks run again after a lost lease", verdict.rerun)
        .figure("store errors the hosts reported (and got over)", errors_logged)
        .figure("panics", 0)
        .figure(
            "restart to first finished task",
            outages
                .iter()
                .map(|outage| outage.recovered_after.map_or_else(|| "n/a".to_owned(), ms))
                .collect::<Vec<_>>()
                .join(", "),
        )
        .figure(
            "throughput before the first stop",
            rate(before as usize, first_down.duration_since(started)),
        )
        .figure(
            "throughput in the 2 s after the first task finished after the last restart",
            window_rate(&samples, last_up + outages[1].recovered_after.unwrap_or_default()),
        )
        .figure(
            "last restart to the last task finished (the remaining 40 %)",
            ms(done_at.duration_since(last_up)),
        )
        .figure("time to drain", format!("{:.1} s", took.as_secs_f64()))
        .figure("tasks each host finished after the last restart", finished_after.join(" / "))
        .figure(
            "every host ran a task of its own kind after the work was done, within",
            format!("{} ms", pinged.as_millis()),
        );
    Ok(report)
}

/// Enqueues one task of each host's own kind ([`ping_kind`]) and waits until every one
/// succeeded: each host reconnected and claims again by itself. Gives how long that took.
fn ping_every_host(probe: &dyn TaskStore, processes: u32) -> Result<Duration, Violation> {
    let started = Instant::now();
    let mut pings = Vec::new();
    for n in 0..processes {
        let runner = format!("restart-{n}");
        let task = NewTask::new(ping_kind(&runner), json!({}));
        let outcome = probe.enqueue(task, Timestamp::now_utc())?;
        pings.push((runner, outcome.task.id));
    }
    loop {
        let mut waiting = Vec::new();
        for (runner, id) in &pings {
            let done = probe.get(id)?.is_some_and(|task| task.status == TaskStatus::Succeeded);
            if !done {
                waiting.push(runner.as_str());
            }
        }
        if waiting.is_empty() {
            return Ok(started.elapsed());
        }
        ensure!(
            started.elapsed() < PING_PATIENCE,
            "host(s) {} did not run a task of their own within {} s after the last restart",
            waiting.join(", "),
            PING_PATIENCE.as_secs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
