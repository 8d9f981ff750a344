//! Scenario 9, `floods`: a task that reports 10,000 progress updates and 100,000 steps a
//! second is held to the host's configured limits, and the other tasks do not notice.
//!
//! 1. Baseline: small probe tasks are enqueued at a steady pace; their pickup latency (from
//!    the enqueue call to the handler's first line) is measured.
//! 2. Flood: the same, while one task floods progress and steps for the same time. Baseline
//!    and flood windows alternate (five rounds in the full run) so both meet the same
//!    background load. Each flood is held to the limits (progress coalesced on the flush
//!    interval, progress events to listeners paced by `progress_event_interval`, steps by
//!    `max_steps_per_second` and `step_burst`): the steps stored plus the steps counted as
//!    dropped are exactly the steps sent, the steps stored stay within the budget, the task's
//!    revision (one per write) within what the flush beat allows, and the progress events told
//!    within what the event pace allows. The probes' p99 during the floods stays within 2x the
//!    baseline's.
//! 3. A child process floods its stdout with step lines through the process executor: the
//!    same cap holds.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};
use tasks_core::{
    EnqueueOptions, HostEventType, NewStep, ProgressUpdate, StepLevel, StepQuery, TaskId,
    TaskRecord, TaskStatus, TaskStore,
};
use tasks_exec_inproc::{InProcessExecutor, TaskContext, TaskFailure, TaskHandler};
use tasks_exec_process::ProcessExecutor;
use tasks_host::{HandlerRegistration, RunnerOptions, TaskHost};

use crate::abuse_support::runtime::{runner, runtime, wait_for};
use crate::abuse_support::stats::{Latencies, ms};
use crate::abuse_support::store::StoreUnderTest;
use crate::{Ctx, Report, Violation, ensure};

const FLOOD: &str = "flood.inproc";
const CHILD_FLOOD: &str = "flood.child";
const PROBE: &str = "flood.probe";
/// The flood's rates, as the issue asks.
const PROGRESS_PER_SECOND: u64 = 10_000;
const STEPS_PER_SECOND: u64 = 100_000;
/// Reports are sent in ticks of this length.
const TICK: Duration = Duration::from_millis(10);
/// Probes are enqueued this often.
const PROBE_EVERY: Duration = Duration::from_millis(10);
const PATIENCE: Duration = Duration::from_secs(120);

#[derive(Deserialize)]
struct FloodInput {
    millis: u64,
}

/// Reports at the flood's rates for `millis`; returns what it sent.
struct Flooder {
    started: Sender<TaskId>,
}

impl TaskHandler for Flooder {
    type Input = FloodInput;
    type Output = Value;

    async fn run(&self, input: FloodInput, ctx: TaskContext) -> Result<Value, TaskFailure> {
        let _ = self.started.send(ctx.id().clone());
        let until = tokio::time::Instant::now() + Duration::from_millis(input.millis);
        let mut tick = tokio::time::interval(TICK);
        let ticks_per_second = (Duration::from_secs(1).as_micros() / TICK.as_micros()) as u64;
        let (mut progress, mut steps) = (0u64, 0u64);
        while tokio::time::Instant::now() < until {
            tick.tick().await;
            for _ in 0..PROGRESS_PER_SECOND / ticks_per_second {
                progress += 1;
                let percent = (progress % 100) as f64;
                ctx.set_progress(
                    ProgressUpdate::percent(percent).label(format!("update {progress}")),
                )?;
            }
            for _ in 0..STEPS_PER_SECOND / ticks_per_second {
                steps += 1;
                ctx.append_step(NewStep::info(format!("flood step {steps}")))?;
            }
        }
        Ok(json!({ "progress": progress, "steps": steps }))
    }
}

/// Notes when each probe was asked for, how long it waited to run, and how often probes ran
/// (once each, or something ran twice).
#[derive(Default)]
struct Pickups {
    asked: Mutex<HashMap<u64, Instant>>,
    latencies: Mutex<BTreeMap<u64, Duration>>,
    runs: AtomicU64,
}

#[derive(Deserialize)]
struct ProbeInput {
    number: u64,
}

struct Prober {
    pickups: Arc<Pickups>,
}

impl TaskHandler for Prober {
    type Input = ProbeInput;
    type Output = Value;

    async fn run(&self, input: ProbeInput, _ctx: TaskContext) -> Result<Value, TaskFailure> {
        let now = Instant::now();
        self.pickups.runs.fetch_add(1, Ordering::SeqCst);
        let asked = self
            .pickups
            .asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&input.number)
            .copied();
        if let Some(asked) = asked {
            let mut latencies =
                self.pickups.latencies.lock().unwrap_or_else(PoisonError::into_inner);
            latencies.entry(input.number).or_insert(now.saturating_duration_since(asked));
        }
        Ok(Value::Null)
    }
}

/// How long each phase lasts.
fn phase(ctx: &Ctx) -> Duration {
    if ctx.quick { Duration::from_millis(1500) } else { Duration::from_secs(3) }
}

pub(super) fn run(ctx: &Ctx) -> Result<Report, Violation> {
    let mut report = Report::new();
    let store = StoreUnderTest::new(ctx)?;
    let runtime = runtime()?;
    let pickups = Arc::new(Pickups::default());
    let (started, starts) = channel();
    let options = host_options();
    let host_store = store.open(8)?;
    let child = flood_child(child_lines(ctx));
    let host = TaskHost::builder_from_arc(Arc::clone(&host_store))
        .options(options.clone())
        .handler(
            HandlerRegistration::new(FLOOD, InProcessExecutor::new(Flooder { started }))
                .concurrency(1),
        )
        .handler(HandlerRegistration::new(CHILD_FLOOD, child).concurrency(1))
        .handler(
            HandlerRegistration::new(
                PROBE,
                InProcessExecutor::new(Prober { pickups: Arc::clone(&pickups) }),
            )
            .concurrency(6),
        )
        .build()?;
    // A listener, as a live hub would be: it counts the progress events told.
    let progress_events = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&progress_events);
    let _listening = host.on_event(move |event| {
        if event.event_type == HostEventType::TaskProgress {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    runtime.block_on(host.start())?;
    let listened = Listened { progress_events: &progress_events };
    let result =
        phases(ctx, &runtime, &host, &*host_store, &pickups, &starts, listened, &mut report);
    runtime.block_on(host.stop())?;
    drop(host);
    result?;
    Ok(report)
}

fn host_options() -> RunnerOptions {
    let defaults = RunnerOptions::default();
    // The limits under test are the defaults; only the scenario's pacing differs.
    runner("floods", 8)
        .progress_flush_interval(defaults.progress_flush_interval)
        .progress_event_interval(defaults.progress_event_interval)
        .max_steps_per_second(defaults.max_steps_per_second)
        .step_burst(defaults.step_burst)
}

/// A child that prints `lines` step messages as fast as it can, then a result.
fn flood_child(lines: u64) -> ProcessExecutor {
    let script = format!(
        "yes '{{\"type\":\"step\",\"message\":\"child step\"}}' | head -n {lines}; \
         echo '{{\"type\":\"result\",\"output\":{{\"lines\":{lines}}}}}'"
    );
    ProcessExecutor::new("sh").arg("-c").arg(script)
}

/// One flood task's figures.
#[derive(Default)]
struct Flooded {
    sent_progress: u64,
    sent_steps: u64,
    stored: u64,
    dropped: u64,
    seconds: f64,
    most_writes: u64,
    write_bound: u64,
    budget: u64,
}

/// What the scenario's listener counted.
#[derive(Clone, Copy)]
struct Listened<'a> {
    progress_events: &'a AtomicU64,
}

#[allow(clippy::too_many_arguments)]
fn phases(
    ctx: &Ctx,
    runtime: &tokio::runtime::Runtime,
    host: &TaskHost,
    store: &dyn TaskStore,
    pickups: &Pickups,
    starts: &std::sync::mpsc::Receiver<TaskId>,
    listened: Listened<'_>,
    report: &mut Report,
) -> Result<(), Violation> {
    let length = phase(ctx);
    let rounds = if ctx.quick { 1 } else { 5 };
    let mut next = 0u64;
    let (mut baseline, mut flooded) = (Vec::new(), Vec::new());
    let mut paired: Vec<(Latencies, Latencies)> = Vec::new();
    let mut total = Flooded::default();
    // Baseline and flood windows alternate, so both see the same background load.
    for _ in 0..rounds {
        let before = next;
        probe_for(runtime, host, pickups, length, &mut next)?;
        let quiet = wait_probes(pickups, before..next)?;
        let flood = runtime
            .block_on(host.enqueue(
                FLOOD,
                &json!({ "millis": length.as_millis() as u64 }),
                EnqueueOptions::new(),
            ))?
            .task;
        starts
            .recv_timeout(PATIENCE)
            .map_err(|_| Violation("floods: the flood never started".into()))?;
        let flood_started = Instant::now();
        let before = next;
        probe_for(runtime, host, pickups, length, &mut next)?;
        let record = finished(store, &flood.id)?;
        let one = check_flood(store, &record, flood_started.elapsed())?;
        let loud = wait_probes(pickups, before..next)?;
        paired.push((Latencies::of(&quiet), Latencies::of(&loud)));
        baseline.extend(quiet);
        flooded.extend(loud);
        total.sent_progress += one.sent_progress;
        total.sent_steps += one.sent_steps;
        total.stored += one.stored;
        total.dropped += one.dropped;
        total.seconds += one.seconds;
        total.budget += one.budget;
        total.most_writes = total.most_writes.max(one.most_writes);
        total.write_bound = one.write_bound;
    }
    let (baseline, flooded) = (Latencies::of(&baseline), Latencies::of(&flooded));
    let runs = pickups.runs.load(Ordering::SeqCst);
    ensure!(runs == next, "floods: {next} probe tasks ran {runs} times");
    let seconds = total.seconds;
    report.say(format!(
        "floods: {rounds} rounds of {:.1} s without, then {:.1} s with, one task reporting \
         {PROGRESS_PER_SECOND} progress updates and {STEPS_PER_SECOND} steps a second, while \
         probe tasks were enqueued every {} ms",
        length.as_secs_f64(),
        length.as_secs_f64(),
        PROBE_EVERY.as_millis()
    ));
    report.figure(
        "flood sent (progress / steps)",
        format!(
            "{} / {} in {seconds:.2} s ({:.0} / {:.0} a second)",
            total.sent_progress,
            total.sent_steps,
            total.sent_progress as f64 / seconds,
            total.sent_steps as f64 / seconds
        ),
    );
    report.figure(
        "flood steps stored / dropped (budget)",
        format!("{} / {} ({})", total.stored, total.dropped, total.budget),
    );
    report.figure(
        "flood task writes, most in one window (bound)",
        format!("{} ({})", total.most_writes, total.write_bound),
    );
    // Listeners hear a preview at most once per event interval, plus one held-back update told
    // by each progress write (one per flush beat), plus the edges of each window.
    let options = host_options();
    let told = listened.progress_events.load(Ordering::Relaxed);
    let told_bound = (seconds / options.progress_event_interval.as_secs_f64()).ceil() as u64
        + (seconds / options.progress_flush_interval.as_secs_f64()).ceil() as u64
        + 4 * rounds as u64;
    report.figure(
        "progress events told to listeners (bound)",
        format!("{told} of {} updates ({told_bound})", total.sent_progress),
    );
    ensure!(
        told <= told_bound,
        "floods: listeners were told {told} progress events in {seconds:.1} s (bound {told_bound})"
    );
    report.figure("pickup latency, baseline", baseline);
    report.figure("pickup latency, during the floods", flooded);
    // Each round compares its flood window with the baseline window just before it; the
    // promise is broken when most rounds break it, so one burst of load from elsewhere on the
    // machine cannot fail the run, and a real slowdown (every round) cannot pass.
    let ratios: Vec<String> = paired
        .iter()
        .map(|(quiet, loud)| format!("{:.2}", ms(loud.p99) / ms(quiet.p99).max(0.001)))
        .collect();
    let broken: Vec<String> = paired
        .iter()
        .filter(|(quiet, loud)| loud.p99 > allowed_p99(ctx, quiet.p99))
        .map(|(quiet, loud)| format!("{:.1} ms -> {:.1} ms", ms(quiet.p99), ms(loud.p99)))
        .collect();
    report.figure(
        "pickup p99 ratio per round (flood / baseline, allowed 2x + slack)",
        format!("{} (over the allowance in {} of {rounds})", ratios.join(", "), broken.len()),
    );
    ensure!(
        broken.len() * 2 <= paired.len() && (paired.len() > 1 || broken.is_empty()),
        "floods: pickup p99 more than doubled during the floods in {} of {rounds} rounds: {}",
        broken.len(),
        broken.join("; ")
    );
    child_flood(ctx, runtime, host, store, report)
}

/// Checks one finished flood task against the limits: every step sent is stored or counted
/// as dropped, the steps stored stay within the budget for the time it ran, and its writes
/// (one revision each) within what the flush beat allows.
fn check_flood(
    store: &dyn TaskStore,
    record: &TaskRecord,
    took: Duration,
) -> Result<Flooded, Violation> {
    let options = host_options();
    let sent = |name: &str| record.output.as_ref().and_then(|out| out.get(name)?.as_u64());
    let (sent_progress, sent_steps) = (sent("progress").unwrap_or(0), sent("steps").unwrap_or(0));
    let (stored, dropped) = step_tally(store, &record.id)?;
    let seconds = took.as_secs_f64();
    let rate = u64::from(options.max_steps_per_second.unwrap_or(0));
    let budget = u64::from(options.step_burst) + (rate as f64 * (seconds + 1.0)) as u64;
    let beats = (seconds / options.progress_flush_interval.as_secs_f64()).ceil() as u64;
    let heartbeats = (seconds / options.heartbeat.as_secs_f64()).ceil() as u64;
    // Per flush beat: one step batch and one progress write; plus heartbeats, the enqueue,
    // claim, start and finish, and the last flush.
    let write_bound = 2 * (beats + 2) + heartbeats + 6;
    ensure!(
        record.status == TaskStatus::Succeeded,
        "floods: the flooding task ended {:?}: {:?}",
        record.status,
        record.error
    );
    ensure!(
        stored + dropped == sent_steps,
        "floods: {sent_steps} steps sent, {stored} stored and {dropped} counted as dropped"
    );
    ensure!(
        stored <= budget,
        "floods: {stored} steps stored in {seconds:.1} s, over the budget of {budget}"
    );
    ensure!(
        record.revision <= write_bound,
        "floods: the flooding task was written {} times in {seconds:.1} s (bound {write_bound})",
        record.revision
    );
    Ok(Flooded {
        sent_progress,
        sent_steps,
        stored,
        dropped,
        seconds,
        most_writes: record.revision,
        write_bound,
        budget,
    })
}

/// A child flooding its stdout with step lines: the same cap.
fn child_flood(
    ctx: &Ctx,
    runtime: &tokio::runtime::Runtime,
    host: &TaskHost,
    store: &dyn TaskStore,
    report: &mut Report,
) -> Result<(), Violation> {
    let child =
        runtime.block_on(host.enqueue(CHILD_FLOOD, &json!({}), EnqueueOptions::new()))?.task;
    let record = finished(store, &child.id)?;
    let lines = record.output.as_ref().and_then(|out| out.get("lines")?.as_u64()).unwrap_or(0);
    let (stored, dropped) = step_tally(store, &child.id)?;
    ensure!(
        record.status == TaskStatus::Succeeded && lines == child_lines(ctx),
        "floods: the flooding child ended {:?} after {lines} lines: {:?}",
        record.status,
        record.error
    );
    ensure!(
        stored + dropped == lines,
        "floods: the child printed {lines} steps, {stored} stored and {dropped} dropped"
    );
    report.figure(
        "child flood: step lines printed / stored / dropped",
        format!("{lines} / {stored} / {dropped}"),
    );
    Ok(())
}

/// How many step lines the flooding child prints.
fn child_lines(ctx: &Ctx) -> u64 {
    if ctx.quick { 50_000 } else { 500_000 }
}

/// The p99 the flood windows may reach: twice the baseline's. The quick run, on a loaded test
/// machine, adds 50 ms of slack so scheduling noise on a millisecond baseline cannot fail it;
/// the full run adds 10 ms.
fn allowed_p99(ctx: &Ctx, baseline: Duration) -> Duration {
    let slack = if ctx.quick { Duration::from_millis(50) } else { Duration::from_millis(10) };
    baseline * 2 + slack
}

/// Enqueues a probe every [`PROBE_EVERY`] for `length`.
fn probe_for(
    runtime: &tokio::runtime::Runtime,
    host: &TaskHost,
    pickups: &Pickups,
    length: Duration,
    next: &mut u64,
) -> Result<(), Violation> {
    let until = Instant::now() + length;
    let mut due = Instant::now();
    while Instant::now() < until {
        let number = *next;
        *next += 1;
        pickups.asked.lock().unwrap_or_else(PoisonError::into_inner).insert(number, Instant::now());
        runtime.block_on(host.enqueue(
            PROBE,
            &json!({ "number": number }),
            EnqueueOptions::new(),
        ))?;
        due += PROBE_EVERY;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    Ok(())
}

/// Waits until the probes numbered `numbers` have run; their pickup latencies.
fn wait_probes(pickups: &Pickups, numbers: Range<u64>) -> Result<Vec<Duration>, Violation> {
    wait_for("floods: every probe to run", PATIENCE, || {
        let latencies = pickups.latencies.lock().unwrap_or_else(PoisonError::into_inner);
        let window: Vec<Duration> = latencies.range(numbers.clone()).map(|(_, at)| *at).collect();
        Ok((window.len() as u64 == numbers.end - numbers.start).then_some(window))
    })
}

fn finished(store: &dyn TaskStore, id: &TaskId) -> Result<TaskRecord, Violation> {
    wait_for(&format!("floods: task {id} to finish"), PATIENCE, || {
        Ok(store.get(id)?.filter(|record| record.status.is_terminal()))
    })
}

/// The steps stored for a task other than the drop notes, and the steps the notes count.
fn step_tally(store: &dyn TaskStore, id: &TaskId) -> Result<(u64, u64), Violation> {
    let (mut stored, mut dropped) = (0u64, 0u64);
    let mut after = 0;
    loop {
        let page =
            store.list_steps(id, &StepQuery::after(after, tasks_core::limits::MAX_PAGE_LIMIT))?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for step in &page {
            let counted = (step.level == StepLevel::Warn)
                .then(|| step.meta.as_ref()?.get("droppedSteps")?.as_u64())
                .flatten();
            match counted {
                Some(count) => dropped += count,
                None => stored += 1,
            }
        }
    }
    Ok((stored, dropped))
}
