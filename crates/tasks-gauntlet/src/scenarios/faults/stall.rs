//! Issue scenario 5, a stalled network between a host and PostgreSQL: host A reaches the
//! server through a small TCP proxy (see `faults_support::proxy`) while it runs four long
//! tasks. The proxy stalls (bytes stop, connections stay open) for longer than the lease, then
//! cuts every connection, then lets traffic flow again. Host B, on a direct connection,
//! recovers A's tasks once their leases run out and finishes them.
//!
//! Promises checked: no store call of host A stays in flight past the store's configured
//! timeouts (pool wait + response timeout, with a margin); A's leases are not extended while it
//! is cut off; B rescues the tasks; once the network is back, A runs new work on its own, and
//! its old attempts change nothing.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tasks_core::{
    EnqueueOptions, LeaseToken, NewTask, StepQuery, TaskId, TaskRecord, TaskStatus, TaskStore,
    Timestamp,
};
use tasks_host::RunnerOptions;
use tasks_store_postgres::PostgresTaskStore;

use crate::faults_support::history::HistoryLog;
use crate::faults_support::inproc;
use crate::faults_support::observed::{CallLog, ObservedStore};
use crate::faults_support::proxy::{Mode, Proxy};
use crate::faults_support::stores::{StoreFixture, StoreSpec, WORKER_POOL};
use crate::faults_support::wait::{ms, wait_for};
use crate::faults_support::work::{WORK_KIND, WorkInput};
use crate::faults_support::worker::PATIENCE;
use crate::{Ctx, Report, StoreKind, Violation, ensure};

const LEASE: Duration = Duration::from_secs(3);
/// How long a call may wait for a pooled session.
const POOL_WAIT: Duration = Duration::from_secs(2);
/// How long the store waits for the server to answer one request.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// The server-side statement timeout.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest any call may stay in flight: a pool wait, then one request's timeout, plus a
/// margin for a loaded machine.
const BOUND: Duration = Duration::from_secs(7);
/// How long the proxy cuts every connection after the stall.
const CUT_FOR: Duration = Duration::from_secs(2);

/// Tracks the longest a call of host A stayed in flight.
#[derive(Default)]
struct Longest {
    age: Duration,
    op: &'static str,
}

impl Longest {
    fn sample(&mut self, store: &ObservedStore) {
        if let Some((op, age)) = store.oldest_in_flight()
            && age > self.age
        {
            *self = Longest { age, op };
        }
    }
}

fn upstream(spec: &StoreSpec) -> Result<(SocketAddr, String, String), Violation> {
    let StoreSpec::Postgres { url, .. } = spec else {
        return Err(Violation("the stall scenario runs on PostgreSQL only".into()));
    };
    let endpoint = spec.postgres_options(WORKER_POOL)?.endpoint();
    let address =
        (endpoint.host.as_str(), endpoint.port).to_socket_addrs()?.next().ok_or_else(|| {
            Violation(format!("{}:{} resolves to nothing", endpoint.host, endpoint.port))
        })?;
    Ok((address, endpoint.host, url.clone()))
}

/// The record and step count of each task.
fn picture(
    store: &dyn TaskStore,
    ids: &[TaskId],
) -> Result<BTreeMap<String, (TaskRecord, usize)>, Violation> {
    let mut picture = BTreeMap::new();
    for id in ids {
        let record = store.get(id)?.ok_or_else(|| Violation(format!("task {id} is gone")))?;
        let steps = store.list_steps(id, &StepQuery::after(0, 10_000))?.len();
        picture.insert(id.to_string(), (record, steps));
    }
    Ok(picture)
}

fn enqueue(store: &dyn TaskStore, ids: &[TaskId], input: &WorkInput) -> Result<(), Violation> {
    let tasks = ids
        .iter()
        .map(|id| {
            let options = EnqueueOptions::new().id(id.clone()).max_attempts(5);
            NewTask::new(WORK_KIND, input.to_json()).with_options(options)
        })
        .collect();
    store.enqueue_batch(tasks, Timestamp::now_utc())?;
    Ok(())
}

fn ids(prefix: &str, count: usize) -> Result<Vec<TaskId>, Violation> {
    (0..count).map(|n| Ok(TaskId::new(format!("{prefix}-{n}"))?)).collect()
}

pub(super) fn run(ctx: &Ctx) -> Result<Report, Violation> {
    ensure!(ctx.store == StoreKind::Postgres, "the stall scenario runs on PostgreSQL only");
    let stall_for = if ctx.quick { Duration::from_secs(9) } else { Duration::from_secs(30) };
    let fixture = StoreFixture::new(StoreKind::Postgres)?;
    let probe = fixture.spec.open((2, 1))?.as_dyn();
    let (address, host, url) = upstream(&fixture.spec)?;
    let proxy = Proxy::start(address)?;
    let proxied = fixture.spec.through(&proxy.url_for(&url, &host)?);
    let mut options = proxied
        .postgres_options(WORKER_POOL)?
        .statement_timeout(Some(STATEMENT_TIMEOUT))
        .response_timeout(Some(RESPONSE_TIMEOUT));
    options.pool.connection_timeout = POOL_WAIT;
    options.config.connect_timeout(RESPONSE_TIMEOUT);
    let calls = Arc::new(CallLog::default());
    let observed = Arc::new(ObservedStore::new(
        Arc::new(PostgresTaskStore::connect(options)?),
        Arc::clone(&calls) as _,
    ));
    let log = Arc::new(HistoryLog::create(&fixture.file("stall.log"))?);
    let runtime = inproc::runtime()?;
    let runner_options = RunnerOptions::default()
        .concurrency(8)
        .lease(LEASE)
        .heartbeat(Duration::from_millis(300))
        .poll_interval(Duration::from_millis(100))
        .stale_scan_interval(Duration::from_millis(300))
        .cancel_grace(Duration::from_millis(500))
        .stop_timeout(Duration::from_secs(1))
        .watchdog(None);
    let host_a = inproc::host(Arc::clone(&observed) as _, "stall-a", runner_options.clone(), &log)?;
    runtime.block_on(host_a.start())?;

    // Four long tasks running on A.
    let long = ids("stall-long", 4)?;
    let hanging =
        WorkInput { hang: true, tick_ms: 50, first_attempt_only: true, ..WorkInput::default() };
    enqueue(&*probe, &long, &hanging)?;
    wait_for("host A to run the four tasks", PATIENCE, Duration::from_millis(50), || {
        let now = picture(&*probe, &long)?;
        let running = now.values().filter(|(record, _)| {
            record.status == TaskStatus::Running && record.lease_owner.as_deref() == Some("stall-a")
        });
        let count = running.count();
        Ok(if count == long.len() { Ok(()) } else { Err(format!("{count} running on A")) })
    })?;

    // The stall.
    proxy.set(Mode::Stall);
    let stall_at = Instant::now();
    // A request that passed the proxy just before the stall has landed by now.
    std::thread::sleep(Duration::from_millis(300));
    let held: Vec<(TaskId, Option<LeaseToken>, Option<Timestamp>)> = picture(&*probe, &long)?
        .into_values()
        .map(|(record, _)| (record.id, record.lease_token, record.lease_expires_at))
        .collect();
    let store_b = fixture.spec.open(WORKER_POOL)?.as_dyn();
    let host_b = inproc::host(store_b, "stall-b", runner_options, &log)?;
    runtime.block_on(host_b.start())?;
    let mut longest = Longest::default();
    let mut lease_checks = 0;
    let mut rescued_after = None;
    while stall_at.elapsed() < stall_for {
        longest.sample(&observed);
        for (id, token, expires) in &held {
            let record = probe.get(id)?.ok_or_else(|| Violation(format!("task {id} is gone")))?;
            lease_checks += 1;
            if record.lease_token == *token {
                ensure!(
                    record.lease_expires_at == *expires,
                    "the lease of task {id} was extended while host A was cut off: {:?} -> {:?}",
                    expires,
                    record.lease_expires_at
                );
            }
        }
        if rescued_after.is_none() {
            let now = picture(&*probe, &long)?;
            if now.values().all(|(record, _)| record.status == TaskStatus::Succeeded) {
                rescued_after = Some(stall_at.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    longest.sample(&observed);
    let stalled_calls = calls.between(stall_at, Instant::now());
    let rescued_after = rescued_after
        .ok_or_else(|| Violation("host B did not finish A's tasks during the stall".into()))?;
    let rescued = picture(&*probe, &long)?;
    for (id, (record, _)) in &rescued {
        ensure!(
            record.attempt == 2 && record.lease_owner.as_deref() == Some("stall-b"),
            "task {id} was finished as attempt {} by {:?}, not attempt 2 by host B",
            record.attempt,
            record.lease_owner
        );
    }
    let stalled_errors = stalled_calls.iter().filter(|call| call.result.is_err()).count();
    ensure!(
        stalled_errors > 0,
        "host A's calls neither failed nor returned during a {} s stall",
        stall_for.as_secs()
    );

    // The cut: every connection closed, new ones refused.
    proxy.set(Mode::Cut);
    let cut_at = Instant::now();
    while cut_at.elapsed() < CUT_FOR {
        longest.sample(&observed);
        std::thread::sleep(Duration::from_millis(50));
    }
    let cut_calls = calls.between(cut_at, Instant::now());
    let worst_cut = cut_calls.iter().map(|call| call.took).max().unwrap_or_default();
    ensure!(
        longest.age <= BOUND,
        "a {} call of host A stayed in flight {} while cut off (the bound is {}: pool wait {} \
         + response timeout {} + margin)",
        longest.op,
        ms(longest.age),
        ms(BOUND),
        ms(POOL_WAIT),
        ms(RESPONSE_TIMEOUT)
    );

    // The network is back: A must run new work by itself, and its old attempts change nothing.
    proxy.set(Mode::Flow);
    let flow_at = Instant::now();
    runtime.block_on(host_b.stop())?;
    let fresh = ids("stall-after", 20)?;
    enqueue(&*probe, &fresh, &WorkInput::default())?;
    wait_for(
        "host A to run new tasks after the network came back",
        PATIENCE,
        Duration::from_millis(50),
        || {
            let now = picture(&*probe, &fresh)?;
            let done =
                now.values().filter(|(record, _)| record.status == TaskStatus::Succeeded).count();
            Ok(if done == fresh.len() {
                Ok(())
            } else {
                Err(format!("{done} of {} done", fresh.len()))
            })
        },
    )?;
    let recovered_after = flow_at.elapsed();
    for (id, (record, _)) in picture(&*probe, &fresh)? {
        ensure!(
            record.lease_owner.as_deref() == Some("stall-a"),
            "new task {id} was run by {:?}, not by host A",
            record.lease_owner
        );
    }
    let first_claim = calls
        .between(flow_at, Instant::now())
        .into_iter()
        .find(|call| call.op == "claim" && call.result.is_ok())
        .map(|call| call.at.duration_since(flow_at));
    runtime.block_on(host_a.stop())?;
    ensure!(
        picture(&*probe, &long)? == rescued,
        "host A's old attempts changed the rescued tasks after the network came back"
    );
    drop(host_a);
    drop(runtime);

    let mut report = Report::new();
    report.say(format!(
        "host A through a TCP proxy ({} ms lease, statement timeout {} ms, response timeout {} \
         ms, pool wait {} ms) running 4 long tasks; the proxy stalled {} s, then cut every \
         connection for {} s, then flowed; host B on a direct connection",
        LEASE.as_millis(),
        STATEMENT_TIMEOUT.as_millis(),
        RESPONSE_TIMEOUT.as_millis(),
        POOL_WAIT.as_millis(),
        stall_for.as_secs(),
        CUT_FOR.as_secs()
    ));
    report
        .figure(
            "longest store call in flight while cut off",
            format!("{} ({}; bound {})", ms(longest.age), longest.op, ms(BOUND)),
        )
        .figure("host A calls ended during the stall", stalled_calls.len())
        .figure("of which failed (timeouts, no session)", stalled_errors)
        .figure("slowest host A call during the cut", ms(worst_cut))
        .figure("lease checks while cut off (none extended)", lease_checks)
        .figure("stall start to B finishing A's 4 tasks", ms(rescued_after))
        .figure("network back to A's first claim", first_claim.map_or_else(|| "n/a".to_owned(), ms))
        .figure("network back to A finishing 20 new tasks", ms(recovered_after))
        .figure("changes by A's old attempts", 0)
        .figure("proxy connections accepted", proxy.accepted());
    Ok(report)
}
