//! Throughput of the PostgreSQL store, next to a ceiling measured in the same run: the fewest
//! SQL statements for the same lifecycle on a bare table, batched the same way.
//!
//! Run: `cargo bench -p tasks-store-postgres --bench postgres` (what `cargo xtask bench
//! postgres` calls). Uses `TASKS_POSTGRES_URL` when set, else a throwaway cluster with the
//! server's durable defaults (fsync on). `TASKS_BENCH_SECS` sets the total measuring time
//! (default 20 s); each figure is the median of `TASKS_BENCH_RUNS` runs (default 3).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};
use serde_json::json;
use tasks_core::{ClaimRequest, Lease, NewStep, NewTask, ProgressUpdate, TaskStore, Timestamp};
use tasks_store_postgres::testing::LocalCluster;
/// Client threads per measure (`TASKS_BENCH_CLIENTS`, default 4).
fn clients() -> usize {
    std::env::var("TASKS_BENCH_CLIENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(4)
}

use tasks_store_postgres::{PoolOptions, PostgresStoreOptions, PostgresTaskStore, prepare_schema};

const BATCH: usize = 100;
const ENQUEUE_BATCH: usize = 1000;

struct Bench {
    url: String,
    segment: Duration,
    runs: usize,
    _cluster: Option<LocalCluster>,
}

fn main() {
    let secs: u64 =
        std::env::var("TASKS_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let runs: usize =
        std::env::var("TASKS_BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
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
    const MEASUREMENTS: u64 = 10;
    let segment =
        Duration::from_secs_f64((secs as f64 / (MEASUREMENTS * runs as u64) as f64).max(0.5));
    let bench = Bench { url, segment, runs, _cluster: cluster };
    println!(
        "tasks-store-postgres bench: {} clients, segments of {segment:?}, median of {runs} runs",
        clients()
    );
    let store = bench.store();

    let mut rows = Vec::new();
    // `TASKS_BENCH_FILTER`: only the measures whose name contains it.
    let filter = std::env::var("TASKS_BENCH_FILTER").unwrap_or_default();
    let wanted = |name: &str| name.contains(filter.as_str());
    let mut ceiling_insert = None;
    let mut ceiling_cycle = None;
    if wanted("bulk enqueue") {
        ceiling_insert = Some(bench.median(|| ceiling_bulk_insert(&bench)));
        rows.push((
            "bulk enqueue (batches of 1000)",
            bench.median(|| bulk_enqueue(&bench, &store)),
            ceiling_insert,
            80_000.0,
        ));
    }
    if wanted("claim+complete") || wanted("claim by 100") {
        ceiling_cycle = Some(bench.median(|| ceiling_claim_complete(&bench)));
    }
    if wanted("claim+complete") {
        let cycle = bench.median(|| claim_complete(&bench, &store, true));
        rows.push((
            "claim+complete, batched by 100 (complete_many)",
            cycle,
            ceiling_cycle,
            50_000.0,
        ));
    }
    if wanted("claim by 100") {
        let per_task = bench.median(|| claim_complete(&bench, &store, false));
        rows.push(("claim by 100 + complete one per call (trait)", per_task, ceiling_cycle, 0.0));
    }
    if wanted("enqueue, one") {
        rows.push((
            "enqueue, one per call",
            bench.median(|| single_enqueue(&bench, &store)),
            None,
            0.0,
        ));
    }
    if wanted("claim 1") {
        rows.push((
            "claim 1 + complete 1 per call",
            bench.median(|| single_claim_complete(&bench, &store)),
            None,
            0.0,
        ));
    }
    if wanted("append_steps") {
        rows.push((
            "append_steps, 1 step per call",
            bench.median(|| worker_writes(&bench, &store, Write::Step)),
            None,
            0.0,
        ));
    }
    if wanted("set_progress") {
        rows.push((
            "set_progress, one per call",
            bench.median(|| worker_writes(&bench, &store, Write::Progress)),
            None,
            0.0,
        ));
    }
    if wanted("heartbeat") {
        rows.push((
            "heartbeat, one per call",
            bench.median(|| worker_writes(&bench, &store, Write::Heartbeat)),
            None,
            0.0,
        ));
    }
    let _ = (ceiling_insert, ceiling_cycle);

    println!(
        "\n{:<48} {:>12} {:>12} {:>9} {:>8}",
        "measure (tasks or writes per second)", "median", "ceiling", "of ceil.", "goal"
    );
    for (name, rate, ceiling, goal) in rows {
        let ceiling_text = ceiling.map_or("-".to_owned(), |c| format!("{c:.0}"));
        let share = ceiling.map_or("-".to_owned(), |c| format!("{:.0}%", 100.0 * rate / c));
        let goal_text = if goal > 0.0 {
            (if rate >= goal { "met" } else { "MISSED" }).to_owned()
        } else {
            "-".to_owned()
        };
        println!("{name:<48} {rate:>12.0} {ceiling_text:>12} {share:>9} {goal_text:>8}");
    }
    drop(store);
    if wanted("hot") {
        hot_worker_writes(&bench);
    }
    dead_tuples(&bench);
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

    fn client(&self) -> Client {
        Client::connect(&self.url, NoTls).unwrap()
    }

    fn median(&self, mut run: impl FnMut() -> f64) -> f64 {
        let mut rates: Vec<f64> = (0..self.runs).map(|_| run()).collect();
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    }
}

/// Runs `work` on `clients()` threads for one segment; returns items per second. `work` gets
/// the thread index and returns how many items one call handled (0: nothing left).
fn timed(bench: &Bench, work: impl Fn(usize) -> u64 + Send + Sync + 'static) -> f64 {
    timed_with(bench, |_| (), move |(), index| work(index))
}

/// As [`timed`], with per-thread state made by `init` (a connection, say).
fn timed_with<S>(
    bench: &Bench,
    init: impl Fn(usize) -> S + Send + Sync + 'static,
    work: impl Fn(&mut S, usize) -> u64 + Send + Sync + 'static,
) -> f64 {
    let init = Arc::new(init);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let work = Arc::new(work);
    let start = Instant::now();
    let threads: Vec<_> = (0..clients())
        .map(|index| {
            let (stop, done, work, init) =
                (Arc::clone(&stop), Arc::clone(&done), Arc::clone(&work), Arc::clone(&init));
            thread::spawn(move || {
                let mut state = init(index);
                while !stop.load(Ordering::Relaxed) {
                    let n = work(&mut state, index);
                    if n == 0 {
                        break;
                    }
                    done.fetch_add(n, Ordering::Relaxed);
                }
            })
        })
        .collect();
    while start.elapsed() < bench.segment && threads.iter().any(|t| !t.is_finished()) {
        thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn now() -> Timestamp {
    Timestamp::now_utc()
}

fn task(n: usize) -> NewTask {
    NewTask::new("bench", json!({ "n": n, "payload": "a small job" }))
}

fn bulk_enqueue(bench: &Bench, store: &PostgresTaskStore) -> f64 {
    let store = store.clone();
    timed(bench, move |_| {
        let tasks: Vec<NewTask> = (0..ENQUEUE_BATCH).map(task).collect();
        store.enqueue_batch(tasks, now()).unwrap().len() as u64
    })
}

fn single_enqueue(bench: &Bench, store: &PostgresTaskStore) -> f64 {
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

/// Runs every queued task to the end (not timed), so each measure starts on an empty queue.
fn drain(store: &PostgresTaskStore) {
    let request = ClaimRequest::new("drain", 1000, Duration::from_secs(600));
    loop {
        let claimed = store.claim(&request, now()).unwrap();
        if claimed.is_empty() {
            return;
        }
        let done: Vec<(Lease, serde_json::Value)> =
            claimed.iter().map(|t| (t.lease().unwrap(), json!(null))).collect();
        store.complete_many(&done, now()).unwrap();
    }
}

fn claim_complete(bench: &Bench, store: &PostgresTaskStore, batched: bool) -> f64 {
    drain(store);
    fill(store, (bench.segment.as_secs_f64() * 80_000.0) as usize);
    let store = store.clone();
    timed(bench, move |index| {
        let request =
            ClaimRequest::new(format!("bench-{index}"), BATCH as u32, Duration::from_secs(600));
        let claimed = store.claim(&request, now()).unwrap();
        if batched {
            let done: Vec<(Lease, serde_json::Value)> =
                claimed.iter().map(|task| (task.lease().unwrap(), json!({"ok": true}))).collect();
            for result in store.complete_many(&done, now()).unwrap() {
                result.unwrap();
            }
        } else {
            for task in &claimed {
                store.complete(&task.lease().unwrap(), json!({"ok": true}), now()).unwrap();
            }
        }
        claimed.len() as u64
    })
}

fn single_claim_complete(bench: &Bench, store: &PostgresTaskStore) -> f64 {
    drain(store);
    fill(store, (bench.segment.as_secs_f64() * 20_000.0) as usize);
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

fn worker_writes(bench: &Bench, store: &PostgresTaskStore, write: Write) -> f64 {
    drain(store);
    fill(store, clients());
    let request = ClaimRequest::new("writer", clients() as u32, Duration::from_secs(3600));
    let leases: Vec<Lease> =
        store.claim(&request, now()).unwrap().iter().map(|t| t.lease().unwrap()).collect();
    let leases = Arc::new(leases);
    let (writer, held) = (store.clone(), Arc::clone(&leases));
    let rate = timed(bench, move |index| {
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
    let done: Vec<(Lease, serde_json::Value)> =
        leases.iter().map(|lease| (lease.clone(), json!(null))).collect();
    store.complete_many(&done, now()).unwrap();
    rate
}

/// The bare-table ceiling: one INSERT of 1000 rows per statement.
fn ceiling_bulk_insert(bench: &Bench) -> f64 {
    let mut client = bench.client();
    client
        .batch_execute(
            "DROP TABLE IF EXISTS bench_bare; \
             CREATE TABLE bench_bare (id bigserial PRIMARY KEY, status text NOT NULL DEFAULT 'queued', \
                 payload json NOT NULL, run_at bigint NOT NULL); \
             CREATE INDEX bench_bare_queue ON bench_bare (run_at, id) WHERE status = 'queued';",
        )
        .unwrap();
    let url = bench.url.clone();
    timed_with(
        bench,
        move |_| Client::connect(&url, NoTls).unwrap(),
        move |client, _| {
            let payloads: Vec<serde_json::Value> =
                (0..ENQUEUE_BATCH).map(|n| json!({ "n": n, "payload": "a small job" })).collect();
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
/// 100 in one statement.
fn ceiling_claim_complete(bench: &Bench) -> f64 {
    let mut client = bench.client();
    client.batch_execute("DELETE FROM bench_bare WHERE status = 'queued'").unwrap();
    let rows = (bench.segment.as_secs_f64() * 150_000.0) as i64;
    client
        .execute(
            "INSERT INTO bench_bare (payload, run_at) SELECT json_build_object('n', n), 0 FROM generate_series(1, $1::int8) AS n",
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
    let writes = timed(bench, move |index| {
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
        "\nheartbeat+progress+step writes: {writes:.0}/s; {hot} of {worker_updates} task updates HOT ({:.1}%), {dead} dead tuples",
        100.0 * hot as f64 / worker_updates as f64
    );
}
