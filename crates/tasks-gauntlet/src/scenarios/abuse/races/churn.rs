//! Concurrency keys and a store-wide kind cap under churn: three hosts, each on its own store
//! handle (as three processes would be), run two kinds: `race.keyed` tasks share four
//! concurrency keys, `race.capped` tasks are capped at [`CAP`] claimed or running in the whole
//! store. Tasks are enqueued in batches and cancelled at random while they run.
//!
//! Two independent witnesses watch: the handlers count who runs at once (per key, and for the
//! capped kind), and a probe thread samples the tables through its own SQL connection. Neither
//! may ever see two tasks on one key, or more than the cap.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};
use tasks_core::{EnqueueOptions, NewTask, StoreErrorKind, TaskId, TaskStore, Timestamp};
use tasks_exec_inproc::{InProcessExecutor, TaskContext, TaskFailure, TaskHandler};
use tasks_host::{HandlerRegistration, TaskHost};

use crate::abuse_support::probe::Probe;
use crate::abuse_support::runtime::{Rng, runner, runtime, wait_for};
use crate::abuse_support::store::StoreUnderTest;
use crate::{Report, Violation, ensure};

const KEYED: &str = "race.keyed";
const CAPPED: &str = "race.capped";
/// The store-wide cap of the capped kind.
const CAP: u32 = 3;
const KEYS: u64 = 4;
const HOSTS: usize = 3;
const SLOTS: u32 = 8;

/// Who runs at once: current and highest count per key (`key:K`) and for the capped kind.
#[derive(Default)]
struct Occupancy(Mutex<HashMap<String, (u32, u32)>>);

impl Occupancy {
    fn enter(self: &Arc<Self>, what: String) -> Seat {
        {
            let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            let entry = map.entry(what.clone()).or_default();
            entry.0 += 1;
            entry.1 = entry.1.max(entry.0);
        }
        Seat { occupancy: Arc::clone(self), what }
    }

    fn highest(&self, what: impl Fn(&str) -> bool) -> u32 {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.iter().filter(|(key, _)| what(key)).map(|(_, (_, max))| *max).max().unwrap_or(0)
    }
}

/// Leaves its place when dropped, however the handler ends.
struct Seat {
    occupancy: Arc<Occupancy>,
    what: String,
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut map = self.occupancy.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = map.get_mut(&self.what) {
            entry.0 -= 1;
        }
    }
}

#[derive(Deserialize)]
struct Work {
    work_ms: u64,
}

struct Churner {
    occupancy: Arc<Occupancy>,
}

impl TaskHandler for Churner {
    type Input = Work;
    type Output = Value;

    async fn run(&self, input: Work, ctx: TaskContext) -> Result<Value, TaskFailure> {
        let _seat = match ctx.concurrency_key() {
            Some(key) => self.occupancy.enter(format!("key:{key}")),
            None => self.occupancy.enter(format!("kind:{}", ctx.kind())),
        };
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(input.work_ms)) => Ok(json!(null)),
            () = ctx.cancelled() => Err(TaskFailure::cancelled("churn")),
        }
    }
}

/// What the probe thread saw.
#[derive(Default)]
struct Sampled {
    samples: u64,
    busiest_key: u64,
    capped: u64,
}

pub(super) fn run(
    store: &StoreUnderTest,
    tasks: u32,
    report: &mut Report,
) -> Result<(), Violation> {
    let runtime = runtime()?;
    let occupancy = Arc::new(Occupancy::default());
    let mut hosts = Vec::new();
    for index in 0..HOSTS {
        let executor = InProcessExecutor::new(Churner { occupancy: Arc::clone(&occupancy) });
        let host = TaskHost::builder_from_arc(store.open(4)?)
            .options(runner(&format!("race-churn-{index}"), SLOTS))
            .handler(HandlerRegistration::new(KEYED, executor.clone()))
            .handler(HandlerRegistration::new(CAPPED, executor).max_active(CAP))
            .build()?;
        runtime.block_on(host.start())?;
        hosts.push(host);
    }
    let enqueuer = store.open(2)?;
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let outcome = std::thread::scope(|scope| {
        let mut probe = store.probe()?;
        let stop = &stop;
        let sampler = scope.spawn(move || sample(&mut probe, stop));
        let result = churn(&*enqueuer, tasks).and_then(|cancels| Ok((cancels, drain(store)?)));
        stop.store(true, Ordering::SeqCst);
        let sampled =
            sampler.join().map_err(|_| Violation("churn: the probe thread panicked".into()))??;
        let (cancels, statuses) = result?;
        Ok::<_, Violation>((cancels, statuses, sampled))
    });
    let took = started.elapsed();
    for host in &hosts {
        runtime.block_on(host.stop())?;
    }
    drop(hosts);
    let (cancels, statuses, sampled) = outcome?;
    let handler_key = occupancy.highest(|what| what.starts_with("key:"));
    let handler_capped = occupancy.highest(|what| what == format!("kind:{CAPPED}"));
    ensure!(
        sampled.busiest_key <= 1 && handler_key <= 1,
        "churn: two tasks ran on one concurrency key at once (probe saw {}, handlers {handler_key})",
        sampled.busiest_key
    );
    ensure!(
        sampled.capped <= u64::from(CAP) && handler_capped <= CAP,
        "churn: more than {CAP} {CAPPED} tasks ran at once (probe saw {}, handlers \
         {handler_capped})",
        sampled.capped
    );
    ensure!(statuses.get("failed").copied().unwrap_or(0) == 0, "churn: tasks failed: {statuses:?}");
    report.say(format!(
        "churn: {tasks} tasks ({KEYS} concurrency keys, and a kind capped at {CAP} store-wide) on \
         {HOSTS} hosts with separate store handles, {cancels} cancelled at random while queued or \
         running"
    ));
    report.figure("churn final statuses", format!("{statuses:?}"));
    report.figure("churn probe samples", sampled.samples);
    report.figure(
        "churn most on one key (probe / handlers)",
        format!("{} / {handler_key}", sampled.busiest_key),
    );
    report.figure(
        &format!("churn most {CAPPED} at once, cap {CAP} (probe / handlers)"),
        format!("{} / {handler_capped}", sampled.capped),
    );
    report.figure("churn time", format!("{:.2} s", took.as_secs_f64()));
    Ok(())
}

/// Enqueues `tasks` tasks in batches of ten, cancelling a random earlier one after each batch.
/// Returns how many cancels the store accepted.
fn churn(store: &dyn TaskStore, tasks: u32) -> Result<u32, Violation> {
    let mut rng = Rng::from_clock();
    let mut ids: Vec<TaskId> = Vec::new();
    let mut cancels = 0;
    let mut enqueued = 0;
    while enqueued < tasks {
        let batch: Vec<NewTask> = (0..10.min(tasks - enqueued))
            .map(|_| {
                if rng.chance(1, 2) {
                    let key = format!("ck-{}", rng.below(KEYS));
                    NewTask::new(KEYED, json!({ "work_ms": 1 + rng.below(6) }))
                        .with_options(EnqueueOptions::new().concurrency_key(key))
                } else {
                    NewTask::new(CAPPED, json!({ "work_ms": 4 + rng.below(12) }))
                }
            })
            .collect();
        enqueued += batch.len() as u32;
        let outcomes = store.enqueue_batch(batch, Timestamp::now_utc())?;
        ids.extend(outcomes.into_iter().map(|outcome| outcome.task.id));
        let victim = &ids[rng.below(ids.len() as u64) as usize];
        match store.cancel(victim, Some("churn"), Timestamp::now_utc()) {
            Ok(_) => cancels += 1,
            Err(error) if error.kind() == StoreErrorKind::Refused => {}
            Err(error) => return Err(error.into()),
        }
        std::thread::sleep(Duration::from_millis(2 + rng.below(6)));
    }
    Ok(cancels)
}

/// Waits until no task is open; the count of tasks per status then.
fn drain(store: &StoreUnderTest) -> Result<BTreeMap<String, u64>, Violation> {
    let mut probe = store.probe()?;
    wait_for("churn: every task to finish", Duration::from_secs(120), || {
        let statuses = probe.statuses(&[KEYED, CAPPED])?;
        let open: u64 = ["queued", "claimed", "running"]
            .iter()
            .map(|status| statuses.get(*status).copied().unwrap_or(0))
            .sum();
        Ok((open == 0).then_some(statuses))
    })
}

/// Samples the tables until told to stop.
fn sample(probe: &mut Probe, stop: &AtomicBool) -> Result<Sampled, Violation> {
    let mut sampled = Sampled::default();
    while !stop.load(Ordering::SeqCst) {
        sampled.busiest_key = sampled.busiest_key.max(probe.busiest_concurrency_key()?);
        let capped = probe.active_per_kind()?.get(CAPPED).copied().unwrap_or(0);
        sampled.capped = sampled.capped.max(capped);
        sampled.samples += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(sampled)
}
