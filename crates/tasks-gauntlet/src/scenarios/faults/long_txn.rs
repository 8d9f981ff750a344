//! Issue scenario 7, a long open transaction on PostgreSQL under load: a steady stream of
//! tasks runs on a host while another client holds a transaction open (2 minutes in the full
//! variant). While it lasts, vacuum cannot remove the rows dead since it began, and every claim
//! walks over more of them. Promises checked: claim latency stays bounded (its p99 while the
//! transaction is open, against the baseline before it), the queue keeps up (pickup latency),
//! and the host reports a `runner:warning` naming the cause (the backend, its application, how
//! long) once the transaction passes the store's threshold.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tasks_core::{HostEventType, NewTask, TaskRecord, TaskStore, Timestamp};
use tasks_host::RunnerOptions;
use tasks_store_postgres::PostgresTaskStore;

use crate::faults_support::history::HistoryLog;
use crate::faults_support::inproc;
use crate::faults_support::observed::{CallLog, ObservedStore};
use crate::faults_support::probe::{all_records, wait_until_finished};
use crate::faults_support::stores::{StoreFixture, StoreSpec, own_cluster};
use crate::faults_support::wait::{ms, percentile};
use crate::faults_support::work::{WORK_KIND, WorkInput};
use crate::{Ctx, Report, StoreKind, Violation, ensure};

/// The application name of the client holding the transaction: the warning must name it.
const HOLDER: &str = "gauntlet-long-transaction";

struct Plan {
    baseline: Duration,
    hold: Duration,
    after: Duration,
    threshold: Duration,
    health_every: Duration,
    /// Tasks enqueued per second.
    rate: u32,
}

fn plan(ctx: &Ctx) -> Plan {
    if ctx.quick {
        Plan {
            baseline: Duration::from_secs(3),
            hold: Duration::from_secs(5),
            after: Duration::from_secs(2),
            threshold: Duration::from_secs(1),
            health_every: Duration::from_millis(200),
            rate: 200,
        }
    } else {
        Plan {
            baseline: Duration::from_secs(30),
            hold: Duration::from_secs(120),
            after: Duration::from_secs(20),
            threshold: Duration::from_secs(30),
            health_every: Duration::from_secs(5),
            rate: 300,
        }
    }
}

/// Enqueues `rate` tasks per second in tenths until told to stop.
fn produce(store: Arc<dyn TaskStore>, rate: u32, stop: Arc<AtomicBool>, count: Arc<AtomicU64>) {
    let per_tick = (rate / 10).max(1);
    let input = WorkInput { steps: 2, progress: 2, ..WorkInput::default() }.to_json();
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let tasks = (0..per_tick).map(|_| NewTask::new(WORK_KIND, input.clone())).collect();
        if store.enqueue_batch(tasks, Timestamp::now_utc()).is_ok() {
            count.fetch_add(u64::from(per_tick), Ordering::SeqCst);
        }
        next += Duration::from_millis(100);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

/// Claim durations and pickup latencies of one phase.
struct Phase {
    claims: Vec<Duration>,
    pickups: Vec<Duration>,
    /// Tasks finished per second.
    finished_rate: f64,
}

impl Phase {
    fn of(
        calls: &CallLog,
        records: &[TaskRecord],
        from: (Instant, i64),
        to: (Instant, i64),
    ) -> Self {
        let claims = calls
            .between(from.0, to.0)
            .iter()
            .filter(|call| call.op == "claim")
            .map(|call| call.took)
            .collect();
        let pickups = records
            .iter()
            .filter(|record| (from.1..to.1).contains(&record.created_at.as_millis()))
            .filter_map(|record| {
                record.started_at.map(|started| started.duration_since(record.created_at))
            })
            .collect();
        let finished = records
            .iter()
            .filter_map(|record| record.finished_at)
            .filter(|at| (from.1..to.1).contains(&at.as_millis()))
            .count();
        let seconds = to.0.duration_since(from.0).as_secs_f64().max(0.001);
        Phase { claims, pickups, finished_rate: finished as f64 / seconds }
    }

    fn figures(&self) -> String {
        format!(
            "{:.0} tasks finished/s; claim p50 {} p99 {} max {} ({} claims); pickup p50 {} p99 {}",
            self.finished_rate,
            ms(percentile(&self.claims, 50.0)),
            ms(percentile(&self.claims, 99.0)),
            ms(percentile(&self.claims, 100.0)),
            self.claims.len(),
            ms(percentile(&self.pickups, 50.0)),
            ms(percentile(&self.pickups, 99.0)),
        )
    }
}

/// Each operation's p50 and p99 between two instants, slowest p99 first.
fn by_operation(calls: &CallLog, from: Instant, to: Instant) -> String {
    let mut by_op: std::collections::BTreeMap<&str, Vec<Duration>> = Default::default();
    for call in calls.between(from, to) {
        by_op.entry(call.op).or_default().push(call.took);
    }
    let mut rows: Vec<(&str, Duration, Duration, usize)> = by_op
        .iter()
        .map(|(op, took)| (*op, percentile(took, 50.0), percentile(took, 99.0), took.len()))
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.2));
    rows.iter()
        .map(|(op, p50, p99, count)| format!("{op} {}/{} (x{count})", ms(*p50), ms(*p99)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn now_pair() -> (Instant, i64) {
    (Instant::now(), Timestamp::now_utc().as_millis())
}

/// Dead rows in the tasks table, as the statistics collector counts them.
fn dead_rows(client: &mut postgres::Client) -> Result<i64, Violation> {
    let row = client.query_one(
        "SELECT coalesce(sum(n_dead_tup), 0)::int8 FROM pg_stat_user_tables \
         WHERE schemaname = 'gauntlet' AND relname = 'tasks_tasks'",
        &[],
    )?;
    Ok(row.get(0))
}

pub(super) fn run(ctx: &Ctx) -> Result<Report, Violation> {
    ensure!(
        ctx.store == StoreKind::Postgres,
        "the long-transaction scenario runs on PostgreSQL only"
    );
    let plan = plan(ctx);
    let cluster =
        own_cluster(&[("fsync", "off"), ("full_page_writes", "off"), ("max_connections", "100")])?;
    let fixture = StoreFixture::on_cluster(&cluster)?;
    let probe = fixture.spec.open((2, 1))?.as_dyn();
    let options =
        fixture.spec.postgres_options((8, 4))?.long_transaction_warning(Some(plan.threshold));
    let store = Arc::new(PostgresTaskStore::connect(options)?);
    let calls = Arc::new(CallLog::default());
    let observed: Arc<dyn TaskStore> =
        Arc::new(ObservedStore::new(Arc::clone(&store) as _, Arc::clone(&calls) as _));
    let log = Arc::new(HistoryLog::create(&fixture.file("long.log"))?);
    let runner = RunnerOptions::default()
        .concurrency(16)
        .lease(Duration::from_secs(30))
        .heartbeat(Duration::from_secs(5))
        .poll_interval(Duration::from_millis(200))
        .health_check_interval(plan.health_every)
        .watchdog(None);
    let host = inproc::host(observed, "long-a", runner, &log)?;
    let warnings: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let seen = Arc::clone(&warnings);
    let _listening = host.on_event(move |event| {
        if event.event_type == HostEventType::RunnerWarning {
            let message = event.message.clone().unwrap_or_default();
            seen.lock().unwrap_or_else(PoisonError::into_inner).push((Instant::now(), message));
        }
    });
    let runtime = inproc::runtime()?;
    runtime.block_on(host.start())?;
    let waker = host.waker();
    let listener = store.listen(move || waker.wake())?;

    let stop = Arc::new(AtomicBool::new(false));
    let enqueued = Arc::new(AtomicU64::new(0));
    let producer = {
        let (store, stop, count) = (Arc::clone(&probe), Arc::clone(&stop), Arc::clone(&enqueued));
        let rate = plan.rate;
        std::thread::spawn(move || produce(store, rate, stop, count))
    };
    let started = now_pair();
    std::thread::sleep(plan.baseline);

    // The long transaction: it has an xid, so the xmin horizon stays behind it.
    let StoreSpec::Postgres { url, .. } = &fixture.spec else {
        return Err(Violation("the fixture is not PostgreSQL".into()));
    };
    let mut config: postgres::Config = url.parse()?;
    let mut holder = config.application_name(HOLDER).connect(postgres::NoTls)?;
    let pid: i32 = holder.query_one("SELECT pg_backend_pid()", &[])?.get(0);
    let mut stats = config.application_name("gauntlet-probe").connect(postgres::NoTls)?;
    let dead_before = dead_rows(&mut stats)?;
    let hold_start = now_pair();
    holder.batch_execute("BEGIN; SELECT txid_current();")?;
    std::thread::sleep(plan.hold);
    let dead_during = dead_rows(&mut stats)?;
    holder.batch_execute("COMMIT")?;
    let hold_end = now_pair();
    std::thread::sleep(plan.after);
    stop.store(true, Ordering::SeqCst);
    let _ = producer.join();
    let produced_until = now_pair();
    let total = enqueued.load(Ordering::SeqCst);
    wait_until_finished(
        &*probe,
        total,
        Duration::from_secs(120),
        Duration::from_secs(600),
        |_| Ok(()),
    )?;
    runtime.block_on(host.stop())?;
    listener.stop();
    drop(host);
    drop(runtime);

    let records: Vec<TaskRecord> = all_records(&*probe)?.into_values().collect();
    let baseline = Phase::of(&calls, &records, started, hold_start);
    let held = Phase::of(&calls, &records, hold_start, hold_end);
    let after = Phase::of(&calls, &records, hold_end, produced_until);
    let warnings = warnings.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let named = warnings
        .iter()
        .find(|(at, message)| {
            *at >= hold_start.0
                && message.contains(&format!("backend {pid} "))
                && message.contains(HOLDER)
        })
        .ok_or_else(|| {
            Violation(format!(
                "the host never warned about the transaction of backend {pid} ({HOLDER}) held \
                 {} s past a {} s threshold; warnings seen: {warnings:?}",
                plan.hold.as_secs(),
                plan.threshold.as_secs()
            ))
        })?;
    let warned_after = named.0.duration_since(hold_start.0);
    let base_p99 = percentile(&baseline.claims, 99.0);
    let held_p99 = percentile(&held.claims, 99.0);
    // Bounded: within ten times the baseline, or the baseline plus 250 ms on a machine whose
    // baseline is tiny.
    let bound = (base_p99 * 10).max(base_p99 + Duration::from_millis(250));
    ensure!(
        held_p99 <= bound,
        "claim latency p99 rose from {} to {} while the transaction was open (bound {})",
        ms(base_p99),
        ms(held_p99),
        ms(bound)
    );

    let mut report = Report::new();
    report.say(format!(
        "{} tasks/s (2 steps and 2 progress updates each) on one host; a client transaction \
         (with an xid) held open {} s after a {} s baseline; warning threshold {} s, health \
         check every {} ms",
        plan.rate,
        plan.hold.as_secs(),
        plan.baseline.as_secs(),
        plan.threshold.as_secs(),
        plan.health_every.as_millis()
    ));
    report
        .figure("tasks run", records.len())
        .figure("baseline", baseline.figures())
        .figure("transaction open", held.figures())
        .figure("after it ended", after.figures())
        .figure("claim p99 bound", ms(bound))
        .figure("store calls p50/p99, baseline", by_operation(&calls, started.0, hold_start.0))
        .figure(
            "store calls p50/p99, transaction open",
            by_operation(&calls, hold_start.0, hold_end.0),
        )
        .figure(
            "dead task rows before / at the end of the transaction",
            format!("{dead_before} / {dead_during}"),
        )
        .figure("transaction start to the host's warning", ms(warned_after))
        .figure("warning", named.1.clone());
    Ok(report)
}
