//! Throughput of the PostgreSQL store, next to a ceiling measured in the same run: the fewest
//! SQL statements for the same lifecycle on a bare table, batched the same way.
//!
//! Run: `cargo xtask bench postgres` (which runs `cargo bench -p tasks-store-postgres --bench
//! postgres`). Uses `TASKS_POSTGRES_URL` when set, else a throwaway cluster with the server's
//! durable defaults (fsync on). Settings, all optional:
//! - `TASKS_BENCH_SECS`: the total measuring time (default 20 s), split evenly between the
//!   timed segments;
//! - `TASKS_BENCH_RUNS`: each figure is the median of this many runs (default 3);
//! - `TASKS_BENCH_CLIENTS`: client threads per measure (default 4);
//! - `TASKS_BENCH_FILTER`: only the measures whose name contains this text;
//! - `TASKS_BENCH_SERVER_PID`: the postmaster's pid when `TASKS_POSTGRES_URL` is set (a
//!   throwaway cluster's is known), to report the server's CPU time per item.
//!
//! Besides the rates it reports the CPU time per item of this process (the client) and of
//! the server's sessions (on Linux; background work such as autovacuum is left out): unlike a
//! rate, this barely moves when other work shares the machine, so it is the figure to compare
//! between versions.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};
use serde_json::json;
use tasks_core::{
    ClaimRequest, ClaimedStart, Finish, Lease, NewStep, NewTask, ProgressUpdate, TaskRecord,
    TaskStore, Timestamp,
};
use tasks_store_postgres::testing::LocalCluster;
use tasks_store_postgres::{PoolOptions, PostgresStoreOptions, PostgresTaskStore, prepare_schema};

const BATCH: usize = 100;
const ENQUEUE_BATCH: usize = 1000;
/// Timed segments in a full run (each measure, and each ceiling, is one per run).
const SEGMENTS: u64 = 13;

/// Client threads per measure (`TASKS_BENCH_CLIENTS`, default 4).
fn clients() -> usize {
    std::env::var("TASKS_BENCH_CLIENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(4)
}

struct Bench {
    url: String,
    segment: Duration,
    runs: usize,
    cpu: CpuClock,
    _cluster: Option<LocalCluster>,
}

/// One timed segment's figures: items per second, and CPU microseconds per item of the
/// client and of the server (`NaN` when unknown).
#[derive(Clone, Copy)]
struct Figures {
    rate: f64,
    client_us: f64,
    server_us: f64,
}

/// A measure of the store: runs one timed segment.
type Measure = fn(&Bench, &PostgresTaskStore) -> Figures;

/// A line of the report.
struct Row {
    name: &'static str,
    figures: Figures,
    ceiling: Option<f64>,
    goal: f64,
}

fn main() {
    let secs: u64 =
        std::env::var("TASKS_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let runs: usize =
        std::env::var("TASKS_BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(3).max(1);
    let (url, cluster) = match std::env::var("TASKS_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let settings =
                [("max_connections", "200"), ("shared_buffers", "256MB"), ("max_wal_size", "4GB")];
            match LocalCluster::start(&settings) {
                Ok(cluster) => (cluster.url(), Some(cluster)),
                Err(why) => {
                    println!("postgres bench skipped: no PostgreSQL ({why})");
                    return;
                }
            }
        }
    };
    let server_pid = cluster
        .as_ref()
        .and_then(LocalCluster::postmaster_pid)
        .or_else(|| std::env::var("TASKS_BENCH_SERVER_PID").ok().and_then(|pid| pid.parse().ok()));
    let segment = Duration::from_secs_f64((secs as f64 / (SEGMENTS * runs as u64) as f64).max(0.5));
    let bench =
        Bench { url, segment, runs, cpu: CpuClock { server: server_pid }, _cluster: cluster };
    println!(
        "tasks-store-postgres bench: {} clients, segments of {segment:?}, median of {runs} runs{}",
        clients(),
        if server_pid.is_some() { "" } else { " (server CPU unknown)" }
    );
    let store = bench.store();
    bench.bare_table();

    let mut rows = Vec::new();
    let filter = std::env::var("TASKS_BENCH_FILTER").unwrap_or_default();
    let wanted = |name: &str| name.contains(filter.as_str());
    let mut row = |name: &'static str, figures: Figures, ceiling: Option<&Figures>, goal: f64| {
        rows.push(Row { name, figures, ceiling: ceiling.map(|c| c.rate), goal });
    };
    const BULK: &str = "bulk enqueue (batches of 1000)";
    const BULK_CEILING: &str = "  ceiling: INSERT from unnest, bare table";
    const CYCLE: &str = "claim 100 + finish_batch 100";
    const CYCLE_CEILING: &str = "  ceiling: claim and complete, bare table";
    const LIFECYCLE: &str = "claim_and_start 100 + finish_batch";
    const ONE_WRITE: &str = "finish_and_claim 100 (host cycle, one write)";
    const PER_CALL: &str = "claim 100 + complete one per call";
    if wanted(BULK) {
        let ceiling = bench.median(|| ceiling_bulk_insert(&bench));
        let figures = bench.median(|| bulk_enqueue(&bench, &store));
        row(BULK, figures, Some(&ceiling), 80_000.0);
        row(BULK_CEILING, ceiling, None, 0.0);
    }
    if wanted(CYCLE) {
        let ceiling = bench.median(|| ceiling_claim_complete(&bench));
        let figures = bench.median(|| claim_finish(&bench, &store, Lifecycle::Batched));
        row(CYCLE, figures, Some(&ceiling), 50_000.0);
        row(CYCLE_CEILING, ceiling, None, 0.0);
    }
    if wanted(LIFECYCLE) {
        let figures = bench.median(|| claim_finish(&bench, &store, Lifecycle::Started));
        row(LIFECYCLE, figures, None, 0.0);
    }
    if wanted(ONE_WRITE) {
        let figures = bench.median(|| finish_and_claim(&bench, &store));
        row(ONE_WRITE, figures, None, 0.0);
    }
    if wanted(PER_CALL) {
        let figures = bench.median(|| claim_finish(&bench, &store, Lifecycle::PerCall));
        row(PER_CALL, figures, None, 0.0);
    }
    let single: [(&'static str, Measure); 5] = [
        ("enqueue, one per call", single_enqueue),
        ("claim 1 + complete 1 per call", single_claim_complete),
        ("append_steps, 1 step per call", |b, s| worker_writes(b, s, Write::Step)),
        ("set_progress, one per call", |b, s| worker_writes(b, s, Write::Progress)),
        ("heartbeat, one per call", |b, s| worker_writes(b, s, Write::Heartbeat)),
    ];
    for (name, measure) in single {
        if wanted(name) {
            let figures = bench.median(|| measure(&bench, &store));
            row(name, figures, None, 0.0);
        }
    }
    report(&rows);
    drop(store);
    if wanted("hot") {
        hot_worker_writes(&bench);
    }
    dead_tuples(&bench);
}

fn report(rows: &[Row]) {
    println!(
        "\n{:<44} {:>9} {:>9} {:>8} {:>7} {:>11} {:>11}",
        "measure (tasks or writes per second)",
        "median",
        "ceiling",
        "of ceil.",
        "goal",
        "client µs",
        "server µs"
    );
    for row in rows {
        let Figures { rate, client_us, server_us } = row.figures;
        let ceiling = row.ceiling.map_or("-".to_owned(), |c| format!("{c:.0}"));
        let share = row.ceiling.map_or("-".to_owned(), |c| format!("{:.0}%", 100.0 * rate / c));
        let goal = if row.goal > 0.0 {
            (if rate >= row.goal { "met" } else { "MISSED" }).to_owned()
        } else {
            "-".to_owned()
        };
        let us = |value: f64| if value.is_nan() { "-".to_owned() } else { format!("{value:.1}") };
        println!(
            "{:<44} {rate:>9.0} {ceiling:>9} {share:>8} {goal:>7} {:>11} {:>11}",
            row.name,
            us(client_us),
            us(server_us)
        );
    }
    println!("(client and server µs: CPU time per task or write, median of the runs)");
}

impl Bench {
    fn store(&self) -> PostgresTaskStore {
        let mut pool = PoolOptions::default();
        pool.max_size = (clients() + 2) as u32;
        pool.relaxed_max_size = clients() as u32;
        let options = PostgresStoreOptions::from_url(&self.url).unwrap().schema("bench").pool(pool);
        let mut client = self.client();
        client.batch_execute("DROP SCHEMA IF EXISTS bench CASCADE").unwrap();
        prepare_schema(&options).unwrap();
        PostgresTaskStore::connect(options).unwrap()
    }

    /// The bare table of the ceilings: an id, a status, the payload, a due time, and the one
    /// index a queue needs.
    fn bare_table(&self) {
        self.client()
            .batch_execute(
                "DROP TABLE IF EXISTS bench_bare; \
                 CREATE TABLE bench_bare (id bigserial PRIMARY KEY, \
                     status text NOT NULL DEFAULT 'queued', payload json NOT NULL, \
                     run_at bigint NOT NULL); \
                 CREATE INDEX bench_bare_queue ON bench_bare (run_at, id) WHERE status = 'queued';",
            )
            .unwrap();
    }

    /// Vacuums the store's tables (not timed) before a claim measure, as its ceiling's table is
    /// before its own: the tasks drained by earlier measures leave dead entries at the head of
    /// the queue index that every claim would walk until autovacuum comes by. (The 5-minute
    /// run shows the steady state with autovacuum alone.)
    fn vacuum(&self) {
        self.client().batch_execute("VACUUM ANALYZE bench.tasks_tasks").unwrap();
    }

    fn client(&self) -> Client {
        Client::connect(&self.url, NoTls).unwrap()
    }

    fn median(&self, mut run: impl FnMut() -> Figures) -> Figures {
        let figures: Vec<Figures> = (0..self.runs).map(|_| run()).collect();
        let median = |pick: fn(&Figures) -> f64| {
            let mut values: Vec<f64> = figures.iter().map(pick).collect();
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        Figures {
            rate: median(|f| f.rate),
            client_us: median(|f| f.client_us),
            server_us: median(|f| f.server_us),
        }
    }
}

/// CPU time, in microseconds, of this process and of the server sessions serving clients
/// (the postmaster's children whose title names a client address), read from `/proc` (Linux,
/// 100 ticks a second). Background processes (autovacuum, WAL writer, checkpointer) are left
/// out: their work comes when it comes, and would land on whichever measure runs then.
struct CpuClock {
    server: Option<u32>,
}

/// A reading of a [`CpuClock`].
struct CpuReading {
    client: Option<u64>,
    sessions: Option<std::collections::HashMap<String, u64>>,
}

impl CpuClock {
    const TICK_US: f64 = 10_000.0;

    fn read(&self) -> CpuReading {
        CpuReading { client: ticks("self"), sessions: self.server.and_then(session_ticks) }
    }

    /// Client and server CPU microseconds from `start` to now (`NaN` when unknown).
    fn since(&self, start: &CpuReading) -> (f64, f64) {
        let end = self.read();
        let client = match (start.client, end.client) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64 * Self::TICK_US,
            _ => f64::NAN,
        };
        let server = match (&start.sessions, &end.sessions) {
            (Some(a), Some(b)) => {
                let used: u64 = b
                    .iter()
                    .map(|(pid, t)| t.saturating_sub(a.get(pid).copied().unwrap_or(0)))
                    .sum();
                used as f64 * Self::TICK_US
            }
            _ => f64::NAN,
        };
        (client, server)
    }
}

/// The fields of `/proc/<pid>/stat` after the command name, from the ppid on (field 4).
fn stat_fields(pid: &str) -> Option<Vec<u64>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    // Skip the state, a letter.
    Some(rest.split_whitespace().skip(1).map(|field| field.parse().unwrap_or(0)).collect())
}

/// User and system ticks of `pid` (fields 14 and 15, at 10 and 11 counting from the ppid).
fn ticks(pid: &str) -> Option<u64> {
    let fields = stat_fields(pid)?;
    Some(fields.get(10)? + fields.get(11)?)
}

/// Ticks of each client session of the server whose postmaster is `postmaster`.
fn session_ticks(postmaster: u32) -> Option<std::collections::HashMap<String, u64>> {
    let mut sessions = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Some(fields) = stat_fields(pid) else { continue };
        if fields.first() != Some(&u64::from(postmaster)) {
            continue;
        }
        // A session's title is `postgres: user database host(port) activity`.
        let title = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if title.contains("127.0.0.1(") || title.contains("[local]") || title.contains("::1(") {
            sessions.insert(pid.to_owned(), ticks(pid).unwrap_or(0));
        }
    }
    Some(sessions)
}

/// Runs `work` on `clients()` threads for one segment. `work` gets the thread index and
/// returns how many items one call handled (0: nothing left).
fn timed(bench: &Bench, work: impl Fn(usize) -> u64 + Send + Sync + 'static) -> Figures {
    timed_with(bench, |_| (), move |(), index| work(index))
}

/// As [`timed`], with per-thread state made by `init` (a connection, say) before the clock
/// starts.
fn timed_with<S: Send + 'static>(
    bench: &Bench,
    init: impl Fn(usize) -> S + Send + Sync + 'static,
    work: impl Fn(&mut S, usize) -> u64 + Send + Sync + 'static,
) -> Figures {
    let init = Arc::new(init);
    let stop = Arc::new(AtomicBool::new(false));
    let go = Arc::new(std::sync::Barrier::new(clients() + 1));
    let done = Arc::new(AtomicU64::new(0));
    let work = Arc::new(work);
    let threads: Vec<_> = (0..clients())
        .map(|index| {
            let (stop, done, work, init, go) = (
                Arc::clone(&stop),
                Arc::clone(&done),
                Arc::clone(&work),
                Arc::clone(&init),
                Arc::clone(&go),
            );
            thread::spawn(move || {
                let mut state = init(index);
                go.wait();
                while !stop.load(Ordering::Relaxed) {
                    let n = work(&mut state, index);
                    if n == 0 {
                        break;
                    }
                    done.fetch_add(n, Ordering::Relaxed);
                }
                // Returned, so its connections outlive the CPU reading.
                state
            })
        })
        .collect();
    go.wait();
    let cpu = bench.cpu.read();
    let start = Instant::now();
    while start.elapsed() < bench.segment && threads.iter().any(|t| !t.is_finished()) {
        thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    let states: Vec<S> = threads.into_iter().map(|thread| thread.join().unwrap()).collect();
    let elapsed = start.elapsed().as_secs_f64();
    let (client_us, server_us) = bench.cpu.since(&cpu);
    drop(states);
    let items = done.load(Ordering::Relaxed) as f64;
    Figures { rate: items / elapsed, client_us: client_us / items, server_us: server_us / items }
}

fn now() -> Timestamp {
    Timestamp::now_utc()
}

fn payload(n: usize) -> serde_json::Value {
    json!({ "n": n, "payload": "a small job" })
}

fn task(n: usize) -> NewTask {
    NewTask::new("bench", payload(n))
}

fn bulk_enqueue(bench: &Bench, store: &PostgresTaskStore) -> Figures {
    let store = store.clone();
    timed(bench, move |_| {
        let tasks: Vec<NewTask> = (0..ENQUEUE_BATCH).map(task).collect();
        store.enqueue_batch(tasks, now()).unwrap().len() as u64
    })
}

fn single_enqueue(bench: &Bench, store: &PostgresTaskStore) -> Figures {
    let store = store.clone();
    timed(bench, move |n| {
        store.enqueue(task(n), now()).unwrap();
        1
    })
}

/// Fills the queue with `n` tasks (not timed).
fn fill(store: &PostgresTaskStore, n: usize) {
    let mut left = n;
    while left > 0 {
        let size = left.min(ENQUEUE_BATCH);
        store.enqueue_batch((0..size).map(task).collect(), now()).unwrap();
        left -= size;
    }
}

fn completions(claimed: &[TaskRecord]) -> Vec<Finish> {
    claimed
        .iter()
        .map(|task| Finish::Complete { lease: task.lease().unwrap(), output: json!({"ok": true}) })
        .collect()
}

/// Runs every queued task to the end (not timed), so each measure starts on an empty queue.
fn drain(store: &PostgresTaskStore) {
    let request = ClaimRequest::new("drain", 1000, Duration::from_secs(600));
    loop {
        let claimed = store.claim(&request, now()).unwrap();
        if claimed.is_empty() {
            return;
        }
        store.finish_batch(&completions(&claimed), now()).unwrap();
    }
}

/// How a claimed batch is run to its end.
#[derive(Clone, Copy)]
enum Lifecycle {
    /// One `finish_batch`.
    Batched,
    /// Claimed with `claim_and_start`, then one `finish_batch` (the host's lifecycle).
    Started,
    /// One `complete` per task.
    PerCall,
}

fn claim_finish(bench: &Bench, store: &PostgresTaskStore, lifecycle: Lifecycle) -> Figures {
    drain(store);
    let per_second = match lifecycle {
        Lifecycle::PerCall => 5_000.0,
        Lifecycle::Batched | Lifecycle::Started => 80_000.0,
    };
    fill(store, (bench.segment.as_secs_f64() * per_second) as usize);
    bench.vacuum();
    let store = store.clone();
    timed(bench, move |index| {
        let request =
            ClaimRequest::new(format!("bench-{index}"), BATCH as u32, Duration::from_secs(600));
        let claimed = match lifecycle {
            Lifecycle::Started => store
                .claim_and_start(&request, now())
                .unwrap()
                .into_iter()
                .map(|item| item.started.unwrap())
                .collect(),
            Lifecycle::Batched | Lifecycle::PerCall => store.claim(&request, now()).unwrap(),
        };
        match lifecycle {
            Lifecycle::Batched | Lifecycle::Started => {
                for result in store.finish_batch(&completions(&claimed), now()).unwrap() {
                    result.unwrap();
                }
            }
            Lifecycle::PerCall => {
                for task in &claimed {
                    store.complete(&task.lease().unwrap(), json!({"ok": true}), now()).unwrap();
                }
            }
        }
        claimed.len() as u64
    })
}

/// The host's cycle since `finish_and_claim`: each batch's completions and the next claim in
/// one call. Each client claims its first batch before the clock starts.
fn finish_and_claim(bench: &Bench, store: &PostgresTaskStore) -> Figures {
    drain(store);
    fill(store, (bench.segment.as_secs_f64() * 80_000.0) as usize);
    bench.vacuum();
    let request = |index: usize| {
        ClaimRequest::new(format!("bench-{index}"), BATCH as u32, Duration::from_secs(600))
    };
    let started = |items: Vec<ClaimedStart>| -> Vec<TaskRecord> {
        items.into_iter().map(|item| item.started.unwrap()).collect()
    };
    let (first, store) = (store.clone(), store.clone());
    timed_with(
        bench,
        move |index| completions(&started(first.claim_and_start(&request(index), now()).unwrap())),
        move |finishes: &mut Vec<Finish>, index| {
            let answer = store.finish_and_claim(finishes, &request(index), now()).unwrap();
            for result in &answer.finished {
                assert!(result.is_ok(), "every completion applies");
            }
            *finishes = completions(&started(answer.claimed.unwrap()));
            answer.finished.len() as u64
        },
    )
}

fn single_claim_complete(bench: &Bench, store: &PostgresTaskStore) -> Figures {
    drain(store);
    fill(store, (bench.segment.as_secs_f64() * 5_000.0) as usize);
    bench.vacuum();
    let store = store.clone();
    timed(bench, move |index| {
        let request = ClaimRequest::new(format!("bench-{index}"), 1, Duration::from_secs(600));
        let claimed = store.claim(&request, now()).unwrap();
        for task in &claimed {
            store.complete(&task.lease().unwrap(), json!({"ok": true}), now()).unwrap();
        }
        claimed.len() as u64
    })
}

#[derive(Clone, Copy)]
enum Write {
    Step,
    Progress,
    Heartbeat,
}

fn worker_writes(bench: &Bench, store: &PostgresTaskStore, write: Write) -> Figures {
    drain(store);
    fill(store, clients());
    let request = ClaimRequest::new("writer", clients() as u32, Duration::from_secs(3600));
    let claimed = store.claim(&request, now()).unwrap();
    let leases: Arc<Vec<Lease>> = Arc::new(claimed.iter().map(|t| t.lease().unwrap()).collect());
    let (writer, held) = (store.clone(), Arc::clone(&leases));
    let figures = timed(bench, move |index| {
        let store = &writer;
        let lease = &held[index % held.len()];
        match write {
            Write::Step => {
                store.append_steps(lease, &[NewStep::info("a step of the work")], now()).unwrap();
            }
            Write::Progress => {
                store
                    .set_progress(lease, &ProgressUpdate::percent((index % 100) as f64), now())
                    .unwrap();
            }
            Write::Heartbeat => {
                store.heartbeat(lease, Duration::from_secs(3600), now()).unwrap();
            }
        }
        1
    });
    store.finish_batch(&completions(&claimed), now()).unwrap();
    figures
}

/// The bare-table ceiling of bulk enqueue: one INSERT of 1000 rows per statement.
fn ceiling_bulk_insert(bench: &Bench) -> Figures {
    let url = bench.url.clone();
    timed_with(
        bench,
        move |_| Client::connect(&url, NoTls).unwrap(),
        move |client, _| {
            let payloads: Vec<serde_json::Value> = (0..ENQUEUE_BATCH).map(payload).collect();
            client
                .execute(
                    "INSERT INTO bench_bare (payload, run_at) SELECT p, $2 FROM unnest($1::json[]) AS p",
                    &[&payloads, &now().as_millis()],
                )
                .unwrap()
        },
    )
}

/// The bare-table ceiling of a batched lifecycle: claim 100 in one statement, complete the
/// 100 in one statement, each its own durable commit.
fn ceiling_claim_complete(bench: &Bench) -> Figures {
    let mut client = bench.client();
    client.batch_execute("DELETE FROM bench_bare WHERE status = 'queued'").unwrap();
    let rows = (bench.segment.as_secs_f64() * 150_000.0) as i64;
    client
        .execute(
            "INSERT INTO bench_bare (payload, run_at) \
             SELECT json_build_object('n', n, 'payload', 'a small job'), 0 \
             FROM generate_series(1, $1::int8) AS n",
            &[&rows],
        )
        .unwrap();
    client.batch_execute("VACUUM ANALYZE bench_bare").unwrap();
    let url = bench.url.clone();
    timed_with(
        bench,
        move |_| Client::connect(&url, NoTls).unwrap(),
        move |client, _| {
            let claimed = client
                .query(
                    "WITH c AS (SELECT id FROM bench_bare WHERE status = 'queued' AND run_at <= $1 \
                         ORDER BY run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
                     UPDATE bench_bare AS b SET status = 'running' FROM c WHERE b.id = c.id RETURNING b.id",
                    &[&now().as_millis(), &(BATCH as i64)],
                )
                .unwrap();
            let ids: Vec<i64> = claimed.iter().map(|row| row.get(0)).collect();
            client
                .execute("UPDATE bench_bare SET status = 'done' WHERE id = ANY($1)", &[&ids])
                .unwrap();
            ids.len() as u64
        },
    )
}

/// Table health after the run: dead tuples and the share of HOT updates.
fn dead_tuples(bench: &Bench) {
    // Statistics reach the shared view within about a second of each backend's commit.
    thread::sleep(Duration::from_millis(1500));
    let mut client = bench.client();
    let rows = client
        .query(
            "SELECT relname::text, n_live_tup, n_dead_tup, n_tup_upd, n_tup_hot_upd, \
                    pg_size_pretty(pg_total_relation_size(relid)) \
             FROM pg_stat_user_tables WHERE schemaname = 'bench' ORDER BY relname",
            &[],
        )
        .unwrap();
    println!(
        "\n{:<24} {:>10} {:>10} {:>10} {:>8} {:>10}",
        "table (schema bench)", "live", "dead", "updates", "HOT", "size"
    );
    for row in rows {
        let (updates, hot): (i64, i64) = (row.get(3), row.get(4));
        let share = if updates > 0 {
            format!("{:.0}%", 100.0 * hot as f64 / updates as f64)
        } else {
            "-".to_owned()
        };
        println!(
            "{:<24} {:>10} {:>10} {:>10} {:>8} {:>10}",
            row.get::<_, String>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2),
            updates,
            share,
            row.get::<_, String>(5)
        );
    }
}

/// The share of heartbeat, progress and step-counter updates that were HOT (heap-only, no
/// index touched), on a schema of their own.
fn hot_worker_writes(bench: &Bench) {
    let url = bench.url.clone();
    let mut client = bench.client();
    client.batch_execute("DROP SCHEMA IF EXISTS bench_hot CASCADE").unwrap();
    let options = PostgresStoreOptions::from_url(&url).unwrap().schema("bench_hot");
    prepare_schema(&options).unwrap();
    let store = PostgresTaskStore::connect(options).unwrap();
    fill(&store, clients());
    let request = ClaimRequest::new("hot", clients() as u32, Duration::from_secs(3600));
    let leases: Vec<Lease> =
        store.claim(&request, now()).unwrap().iter().map(|t| t.lease().unwrap()).collect();
    let claims = leases.len() as i64;
    let leases = Arc::new(leases);
    let writer = store.clone();
    let figures = timed(bench, move |index| {
        let lease = &leases[index % leases.len()];
        writer.heartbeat(lease, Duration::from_secs(3600), now()).unwrap();
        writer.set_progress(lease, &ProgressUpdate::percent((index % 100) as f64), now()).unwrap();
        writer.append_steps(lease, &[NewStep::info("a step")], now()).unwrap();
        3
    });
    // Closing the sessions flushes their statistics.
    drop(store);
    thread::sleep(Duration::from_millis(1500));
    let row = client
        .query_one(
            "SELECT n_tup_upd, n_tup_hot_upd, n_dead_tup FROM pg_stat_user_tables \
             WHERE schemaname = 'bench_hot' AND relname = 'tasks_tasks'",
            &[],
        )
        .unwrap();
    let (updates, hot, dead): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    let worker_updates = (updates - claims).max(1);
    println!(
        "\nheartbeat+progress+step writes: {:.0}/s; {hot} of {worker_updates} task updates HOT ({:.1}%), {dead} dead tuples",
        figures.rate,
        100.0 * hot as f64 / worker_updates as f64
    );
}
