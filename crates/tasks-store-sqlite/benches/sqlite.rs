//! The SQLite store against a ceiling: the same work done with the fewest SQL statements on a
//! bare table with plain rusqlite, at the same durability (WAL, `synchronous` as the store's).
//!
//! `cargo bench -p tasks-store-sqlite --bench sqlite` (what `cargo xtask bench sqlite` runs).
//! Each measurement runs several times on a fresh database (`TASKS_BENCH_RUNS`, default 5) and
//! prints the medians: the store's rate, the ceiling's, their ratio, and the goal.
//! `TASKS_BENCH_DURABILITY=full` measures with `synchronous = FULL` instead of `NORMAL`;
//! `TASKS_BENCH_ONLY=<text>` runs only the measurements whose name contains the text (for
//! profiling one of them). `TASKS_BENCH_PAGE_SIZE=<bytes>` creates both databases with that
//! page size (the store through `SqliteOptions::page_size`); `TASKS_BENCH_INPUT_BYTES=<n>`
//! pads every task's input with a string of `n` bytes (the default input is 30 bytes).
//! `TASKS_BENCH_BACKGROUND_CHECKPOINT=off` (or a number of milliseconds) sets the store's
//! background checkpoint (`SqliteOptions::background_checkpoint`; on, every 10 ms, by default).

use std::path::Path;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior, params};
use serde_json::json;
use tasks_core::{
    ClaimRequest, ClaimedStart, Finish, NewStep, NewTask, ProgressUpdate, TaskStore, Timestamp,
};
use tasks_store_sqlite::{Durability, SqliteOptions, SqliteTaskStore};

const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_000);
const LEASE: Duration = Duration::from_secs(3600);

const BULK_TASKS: usize = 50_000;
const BULK_BATCH: usize = 1_000;
const CYCLE_TASKS: usize = 64 * 200;
const CYCLE_BATCH: usize = 64;
const HOST_BATCH: usize = 32;
const SINGLE_TASKS: usize = 4_000;
const WRITES_ON_RUNNING: usize = 10_000;

fn main() {
    let runs: usize =
        std::env::var("TASKS_BENCH_RUNS").ok().and_then(|text| text.parse().ok()).unwrap_or(5);
    let durability = match std::env::var("TASKS_BENCH_DURABILITY").as_deref() {
        Ok("full") => Durability::Full,
        _ => Durability::Normal,
    };
    println!(
        "tasks-store-sqlite benchmark: SQLite {}, synchronous={}, median of {runs} runs",
        rusqlite::version(),
        durability.pragma_value()
    );
    println!(
        "{:<44} {:>13} {:>13} {:>7}   goal",
        "measurement (tasks or writes per second)", "store", "ceiling", "ratio"
    );
    let only = std::env::var("TASKS_BENCH_ONLY").ok();
    let bench = Bench { runs, only };
    bench.line(
        "bulk enqueue, batches of 1,000",
        "store >= 150,000/s",
        |dir| bulk_enqueue_store(dir, durability),
        |dir| bulk_enqueue_ceiling(dir, durability),
    );
    bench.line(
        "claim(64) + finish_batch of 64 completes",
        "store >= 80,000/s and >= 60%",
        |dir| cycle_store(dir, durability, CompleteShape::OneStatement),
        |dir| cycle_ceiling(dir, durability, CompleteShape::OneStatement),
    );
    bench.line(
        "claim_and_start(32) + finish_batch",
        "(a host's cycle at concurrency 32)",
        |dir| host_cycle_store(dir, durability),
        |dir| host_cycle_ceiling(dir, durability),
    );
    bench.line(
        "finish_and_claim(32), one write per cycle",
        "(the host's cycle since finish_and_claim)",
        |dir| host_cycle_one_write_store(dir, durability),
        |dir| host_cycle_one_write_ceiling(dir, durability),
    );
    bench.line(
        "claim(64) + 64 complete calls",
        "(one transaction per complete, both sides)",
        |dir| cycle_store(dir, durability, CompleteShape::OnePerTransaction),
        |dir| cycle_ceiling(dir, durability, CompleteShape::OnePerTransaction),
    );
    bench.line(
        "enqueue -> claim -> complete, one at a time",
        "store >= 10,000/s",
        |dir| single_store(dir, durability),
        |dir| single_ceiling(dir, durability),
    );
    bench.line(
        "append_steps, 1 step per call, running task",
        "(reported)",
        |dir| steps_store(dir, durability),
        |dir| steps_ceiling(dir, durability),
    );
    bench.line(
        "set_progress on a running task",
        "(reported)",
        |dir| progress_store(dir, durability),
        |dir| progress_ceiling(dir, durability),
    );
}

struct Bench {
    runs: usize,
    only: Option<String>,
}

impl Bench {
    /// Runs both sides `runs` times, alternating, each on a fresh database, and prints the
    /// medians.
    fn line(
        &self,
        name: &str,
        goal: &str,
        store: impl Fn(&Path) -> Sample,
        ceiling: impl Fn(&Path) -> Sample,
    ) {
        if self.only.as_ref().is_some_and(|only| !name.contains(only.as_str())) {
            return;
        }
        let mut store_rates = Vec::new();
        let mut ceiling_rates = Vec::new();
        for _ in 0..self.runs {
            let dir = tempfile::tempdir().expect("temp dir");
            store_rates.push(store(dir.path()));
            let dir = tempfile::tempdir().expect("temp dir");
            ceiling_rates.push(ceiling(dir.path()));
        }
        let wall = |samples: &[Sample]| median(samples.iter().map(|s| s.wall).collect());
        let cpu = |samples: &[Sample]| {
            let rates: Vec<f64> = samples.iter().filter_map(|s| s.cpu).collect();
            if rates.is_empty() { None } else { Some(median(rates)) }
        };
        let (store, ceiling) = (wall(&store_rates), wall(&ceiling_rates));
        println!(
            "{name:<44} {store:>11.0}/s {ceiling:>11.0}/s {:>6.1}%   {goal}",
            100.0 * store / ceiling
        );
        if let (Some(store), Some(ceiling)) = (cpu(&store_rates), cpu(&ceiling_rates)) {
            println!(
                "{:<44} {store:>11.0}/s {ceiling:>11.0}/s {:>6.1}%   (per CPU second)",
                "",
                100.0 * store / ceiling
            );
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A measured run: how many operations, in how much wall-clock and CPU time.
#[derive(Clone, Copy)]
struct Sample {
    wall: f64,
    cpu: Option<f64>,
}

/// Times a run by the wall clock and by this thread's CPU time (Linux only), so a run on a
/// busy machine can be told apart from a slow one.
struct Timer {
    wall: Instant,
    cpu: Option<f64>,
}

fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(nanos / 1e9)
}

impl Timer {
    fn start() -> Self {
        Timer { wall: Instant::now(), cpu: thread_cpu_seconds() }
    }

    fn rate(self, count: usize) -> Sample {
        let wall = count as f64 / self.wall.elapsed().as_secs_f64();
        let cpu = match (self.cpu, thread_cpu_seconds()) {
            (Some(start), Some(end)) if end > start => Some(count as f64 / (end - start)),
            _ => None,
        };
        Sample { wall, cpu }
    }
}

/// `TASKS_BENCH_PAGE_SIZE`, when set.
static PAGE_SIZE: LazyLock<Option<u32>> = LazyLock::new(|| {
    std::env::var("TASKS_BENCH_PAGE_SIZE").ok().map(|text| text.parse().expect("a page size"))
});

/// The padding `TASKS_BENCH_INPUT_BYTES` asks for (none by default).
static PADDING: LazyLock<Option<String>> = LazyLock::new(|| {
    let bytes = std::env::var("TASKS_BENCH_INPUT_BYTES").ok()?;
    Some("x".repeat(bytes.parse().expect("a byte count")))
});

fn open_store(dir: &Path, durability: Durability) -> SqliteTaskStore {
    let mut options = SqliteOptions::new(dir.join("store.db")).durability(durability);
    if let Some(bytes) = *PAGE_SIZE {
        options = options.page_size(bytes);
    }
    match std::env::var("TASKS_BENCH_BACKGROUND_CHECKPOINT").as_deref() {
        Ok("off") => options = options.background_checkpoint(None),
        Ok(ms) => {
            let ms = ms.parse().expect("`off` or a number of milliseconds");
            options = options.background_checkpoint(Some(Duration::from_millis(ms)));
        }
        Err(_) => {}
    }
    SqliteTaskStore::open(options).expect("open the store")
}

fn input(n: usize) -> serde_json::Value {
    match PADDING.as_deref() {
        None => json!({"reportId": n, "format": "pdf"}),
        Some(padding) => json!({"reportId": n, "format": "pdf", "padding": padding}),
    }
}

fn batches(count: usize, size: usize) -> Vec<Vec<NewTask>> {
    let tasks: Vec<NewTask> = (0..count).map(|n| NewTask::new("report", input(n))).collect();
    tasks.chunks(size).map(<[NewTask]>::to_vec).collect()
}

fn enqueue_all(store: &SqliteTaskStore, count: usize) {
    for batch in batches(count, BULK_BATCH) {
        store.enqueue_batch(batch, NOW).expect("enqueue");
    }
}

fn bulk_enqueue_store(dir: &Path, durability: Durability) -> Sample {
    let store = open_store(dir, durability);
    let batches = batches(BULK_TASKS, BULK_BATCH);
    let timer = Timer::start();
    for batch in batches {
        store.enqueue_batch(batch, NOW).expect("enqueue");
    }
    timer.rate(BULK_TASKS)
}

fn cycle_store(dir: &Path, durability: Durability, shape: CompleteShape) -> Sample {
    let store = open_store(dir, durability);
    enqueue_all(&store, CYCLE_TASKS);
    let request = ClaimRequest::new("bench", CYCLE_BATCH as u32, LEASE);
    let timer = Timer::start();
    let mut done = 0;
    loop {
        let claimed = store.claim(&request, NOW).expect("claim");
        if claimed.is_empty() {
            break;
        }
        let leases = claimed.iter().map(|record| record.lease().expect("a lease"));
        match shape {
            CompleteShape::OneStatement => {
                let finishes: Vec<Finish> = leases
                    .map(|lease| Finish::Complete { lease, output: json!({"ok": true}) })
                    .collect();
                let results = store.finish_batch(&finishes, NOW).expect("finish_batch");
                assert!(results.iter().all(Result::is_ok), "every complete applies");
            }
            CompleteShape::OnePerTransaction => {
                for lease in leases {
                    store.complete(&lease, json!({"ok": true}), NOW).expect("complete");
                }
            }
        }
        done += claimed.len();
    }
    assert_eq!(done, CYCLE_TASKS);
    timer.rate(done)
}

/// What a host at concurrency 32 asks of the store for each batch: a claim that starts what it
/// takes (`claim_and_start`), then one `finish_batch`.
fn host_cycle_store(dir: &Path, durability: Durability) -> Sample {
    let store = open_store(dir, durability);
    enqueue_all(&store, CYCLE_TASKS);
    let request = ClaimRequest::new("bench", HOST_BATCH as u32, LEASE);
    let timer = Timer::start();
    let mut done = 0;
    loop {
        let claimed = store.claim_and_start(&request, NOW).expect("claim_and_start");
        if claimed.is_empty() {
            break;
        }
        let results = store.finish_batch(&completes(&claimed), NOW).expect("finish_batch");
        assert!(results.iter().all(Result::is_ok), "every complete applies");
        done += claimed.len();
    }
    assert_eq!(done, CYCLE_TASKS);
    timer.rate(done)
}

/// What a busy host asks of the store since `finish_and_claim`: each batch's completions and
/// the next claim in one call.
fn host_cycle_one_write_store(dir: &Path, durability: Durability) -> Sample {
    let store = open_store(dir, durability);
    enqueue_all(&store, CYCLE_TASKS);
    let request = ClaimRequest::new("bench", HOST_BATCH as u32, LEASE);
    let timer = Timer::start();
    let mut finishes = Vec::new();
    let mut done = 0;
    loop {
        let answer = store.finish_and_claim(&finishes, &request, NOW).expect("finish_and_claim");
        assert!(answer.finished.iter().all(Result::is_ok), "every complete applies");
        done += answer.finished.len();
        let claimed = answer.claimed.expect("the claim");
        if claimed.is_empty() {
            break;
        }
        finishes = completes(&claimed);
    }
    assert_eq!(done, CYCLE_TASKS);
    timer.rate(done)
}

/// A completion of each task claimed and started.
fn completes(claimed: &[ClaimedStart]) -> Vec<Finish> {
    claimed
        .iter()
        .map(|item| {
            let started = item.started.as_ref().expect("every start applies");
            let lease = started.lease().expect("a lease");
            Finish::Complete { lease, output: json!({"ok": true}) }
        })
        .collect()
}

fn single_store(dir: &Path, durability: Durability) -> Sample {
    let store = open_store(dir, durability);
    let request = ClaimRequest::new("bench", 1, LEASE);
    let tasks: Vec<NewTask> = (0..SINGLE_TASKS).map(|n| NewTask::new("report", input(n))).collect();
    let timer = Timer::start();
    for task in tasks {
        store.enqueue(task, NOW).expect("enqueue");
        let claimed = store.claim(&request, NOW).expect("claim");
        let lease = claimed[0].lease().expect("a lease");
        store.complete(&lease, json!({"ok": true}), NOW).expect("complete");
    }
    timer.rate(SINGLE_TASKS)
}

fn running_task(store: &SqliteTaskStore) -> tasks_core::Lease {
    store.enqueue(NewTask::new("report", input(0)), NOW).expect("enqueue");
    let claimed = store.claim(&ClaimRequest::new("bench", 1, LEASE), NOW).expect("claim");
    let lease = claimed[0].lease().expect("a lease");
    store.start(&lease, NOW).expect("start");
    lease
}

fn steps_store(dir: &Path, durability: Durability) -> Sample {
    let store = open_store(dir, durability);
    let lease = running_task(&store);
    let step = [NewStep::info("rendered a page")];
    let timer = Timer::start();
    for _ in 0..WRITES_ON_RUNNING {
        store.append_steps(&lease, &step, NOW).expect("append");
    }
    timer.rate(WRITES_ON_RUNNING)
}

fn progress_store(dir: &Path, durability: Durability) -> Sample {
    let store = open_store(dir, durability);
    let lease = running_task(&store);
    let timer = Timer::start();
    for n in 0..WRITES_ON_RUNNING {
        let update = ProgressUpdate::percent((n % 100) as f64).label("rendering");
        store.set_progress(&lease, &update, NOW).expect("progress");
    }
    timer.rate(WRITES_ON_RUNNING)
}

// The ceiling: a bare queue table, one claim index, the fewest statements per operation.

fn open_ceiling(dir: &Path, durability: Durability) -> Connection {
    let conn = Connection::open(dir.join("ceiling.db")).expect("open the ceiling");
    if let Some(bytes) = *PAGE_SIZE {
        conn.pragma_update(None, "page_size", bytes).expect("page size");
    }
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        .expect("WAL");
    conn.pragma_update(None, "synchronous", durability.pragma_value()).expect("synchronous");
    conn.execute_batch(
        "CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            output TEXT,
            status INTEGER NOT NULL DEFAULT 0,
            priority INTEGER NOT NULL DEFAULT 0,
            run_at INTEGER NOT NULL,
            attempt INTEGER NOT NULL DEFAULT 0,
            lease_owner TEXT,
            lease_until INTEGER,
            progress REAL,
            last_step_seq INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX jobs_claim ON jobs (priority DESC, run_at, id) WHERE status = 0;
        CREATE TABLE steps (
            job_id INTEGER NOT NULL, seq INTEGER NOT NULL, message TEXT NOT NULL,
            created_at INTEGER NOT NULL, PRIMARY KEY (job_id, seq)
        ) WITHOUT ROWID;",
    )
    .expect("the ceiling's schema");
    conn
}

fn ceiling_insert_batch(conn: &mut Connection, first: usize, size: usize) {
    let sql = format!(
        "INSERT INTO jobs (kind, payload, run_at) VALUES {}",
        vec!["('report', ?, ?)"; size].join(", ")
    );
    let payloads: Vec<String> = (first..first + size).map(|n| input(n).to_string()).collect();
    let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(size * 2);
    let now = NOW.as_millis();
    for payload in &payloads {
        values.push(payload);
        values.push(&now);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).expect("begin");
    tx.prepare_cached(&sql).expect("prepare").execute(values.as_slice()).expect("insert");
    tx.commit().expect("commit");
}

/// Queues `count` jobs on the bare table, in batches as the store's `enqueue_all` does.
fn ceiling_fill(conn: &mut Connection, count: usize) {
    for first in (0..count).step_by(BULK_BATCH) {
        ceiling_insert_batch(conn, first, BULK_BATCH.min(count - first));
    }
}

fn bulk_enqueue_ceiling(dir: &Path, durability: Durability) -> Sample {
    let mut conn = open_ceiling(dir, durability);
    let timer = Timer::start();
    for batch in 0..BULK_TASKS / BULK_BATCH {
        ceiling_insert_batch(&mut conn, batch * BULK_BATCH, BULK_BATCH);
    }
    timer.rate(BULK_TASKS)
}

/// The ceiling's claim. The limit is a literal: a bound `LIMIT ?` makes SQLite re-prepare
/// the statement at every call (see the module docs of the store's `row`).
fn ceiling_claim_sql(limit: usize) -> String {
    format!(
        "UPDATE jobs SET status = 1, attempt = attempt + 1, lease_owner = ?1, lease_until = ?2 \
         WHERE id IN (SELECT id FROM jobs WHERE status = 0 AND run_at <= ?3 \
         ORDER BY priority DESC, run_at, id LIMIT {limit}) RETURNING id"
    )
}

fn ceiling_claim(conn: &mut Connection, limit: usize) -> Vec<i64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).expect("begin");
    let ids = ceiling_claim_in(&tx, limit);
    tx.commit().expect("commit");
    ids
}

/// The ceiling's claim statement, inside the caller's transaction.
fn ceiling_claim_in(conn: &Connection, limit: usize) -> Vec<i64> {
    let mut statement = conn.prepare_cached(&ceiling_claim_sql(limit)).expect("prepare");
    let until = NOW.saturating_add(LEASE).as_millis();
    statement
        .query_map(params!["bench", until, NOW.as_millis()], |row| row.get(0))
        .expect("claim")
        .collect::<Result<Vec<i64>, _>>()
        .expect("ids")
}

/// The ceiling's completion of `ids`, one statement, inside the caller's transaction.
fn ceiling_complete_all(conn: &Connection, output: &str, ids: &[i64]) {
    let list = serde_json::to_string(ids).expect("ids");
    conn.prepare_cached(
        "UPDATE jobs SET status = 2, output = ?1, lease_owner = NULL, lease_until = NULL \
         WHERE id IN (SELECT value FROM json_each(?2))",
    )
    .expect("prepare")
    .execute(params![output, list])
    .expect("complete");
}

/// How a cycle completes the tasks it claimed.
#[derive(Clone, Copy)]
enum CompleteShape {
    /// The whole batch in one transaction: the store's `finish_batch`, the ceiling's one
    /// UPDATE.
    OneStatement,
    /// One transaction per task: the store's `complete`, the ceiling's UPDATE of one row.
    OnePerTransaction,
}

fn cycle_ceiling(dir: &Path, durability: Durability, shape: CompleteShape) -> Sample {
    let mut conn = open_ceiling(dir, durability);
    ceiling_fill(&mut conn, CYCLE_TASKS);
    let timer = Timer::start();
    let mut done = 0;
    loop {
        let ids = ceiling_claim(&mut conn, CYCLE_BATCH);
        if ids.is_empty() {
            break;
        }
        let output = json!({"ok": true}).to_string();
        match shape {
            CompleteShape::OneStatement => {
                let tx =
                    conn.transaction_with_behavior(TransactionBehavior::Immediate).expect("begin");
                ceiling_complete_all(&tx, &output, &ids);
                tx.commit().expect("commit");
            }
            CompleteShape::OnePerTransaction => {
                for id in &ids {
                    let tx = conn
                        .transaction_with_behavior(TransactionBehavior::Immediate)
                        .expect("begin");
                    ceiling_complete_one(&tx, *id, &output);
                    tx.commit().expect("commit");
                }
            }
        }
        done += ids.len();
    }
    assert_eq!(done, CYCLE_TASKS);
    timer.rate(done)
}

/// The host's cycle on the bare table: claim 32 (straight to started), complete them.
fn host_cycle_ceiling(dir: &Path, durability: Durability) -> Sample {
    let mut conn = open_ceiling(dir, durability);
    ceiling_fill(&mut conn, CYCLE_TASKS);
    let output = json!({"ok": true}).to_string();
    let timer = Timer::start();
    let mut done = 0;
    loop {
        let ids = ceiling_claim(&mut conn, HOST_BATCH);
        if ids.is_empty() {
            break;
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).expect("begin");
        ceiling_complete_all(&tx, &output, &ids);
        tx.commit().expect("commit");
        done += ids.len();
    }
    assert_eq!(done, CYCLE_TASKS);
    timer.rate(done)
}

/// The same cycle with each batch's completions and the next claim in one transaction.
fn host_cycle_one_write_ceiling(dir: &Path, durability: Durability) -> Sample {
    let mut conn = open_ceiling(dir, durability);
    ceiling_fill(&mut conn, CYCLE_TASKS);
    let output = json!({"ok": true}).to_string();
    let timer = Timer::start();
    let mut ids: Vec<i64> = Vec::new();
    let mut done = 0;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).expect("begin");
        if !ids.is_empty() {
            ceiling_complete_all(&tx, &output, &ids);
        }
        let next = ceiling_claim_in(&tx, HOST_BATCH);
        tx.commit().expect("commit");
        done += ids.len();
        if next.is_empty() {
            break;
        }
        ids = next;
    }
    assert_eq!(done, CYCLE_TASKS);
    timer.rate(done)
}

fn ceiling_complete_one(conn: &Connection, id: i64, output: &str) {
    conn.prepare_cached(
        "UPDATE jobs SET status = 2, output = ?1, lease_owner = NULL, lease_until = NULL \
         WHERE id = ?2 AND status = 1",
    )
    .expect("prepare")
    .execute(params![output, id])
    .expect("complete");
}

fn single_ceiling(dir: &Path, durability: Durability) -> Sample {
    let mut conn = open_ceiling(dir, durability);
    let output = json!({"ok": true}).to_string();
    let timer = Timer::start();
    for n in 0..SINGLE_TASKS {
        conn.prepare_cached("INSERT INTO jobs (kind, payload, run_at) VALUES ('report', ?1, ?2)")
            .expect("prepare")
            .execute(params![input(n).to_string(), NOW.as_millis()])
            .expect("insert");
        let ids = ceiling_claim(&mut conn, 1);
        ceiling_complete_one(&conn, ids[0], &output);
    }
    timer.rate(SINGLE_TASKS)
}

fn ceiling_running(conn: &mut Connection) -> i64 {
    ceiling_insert_batch(conn, 0, 1);
    ceiling_claim(conn, 1)[0]
}

fn steps_ceiling(dir: &Path, durability: Durability) -> Sample {
    let mut conn = open_ceiling(dir, durability);
    let id = ceiling_running(&mut conn);
    let timer = Timer::start();
    for seq in 1..=WRITES_ON_RUNNING as i64 {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).expect("begin");
        tx.prepare_cached(
            "INSERT INTO steps (job_id, seq, message, created_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .expect("prepare")
        .execute(params![id, seq, "rendered a page", NOW.as_millis()])
        .expect("step");
        tx.prepare_cached("UPDATE jobs SET last_step_seq = ?2 WHERE id = ?1")
            .expect("prepare")
            .execute(params![id, seq])
            .expect("seq");
        tx.commit().expect("commit");
    }
    timer.rate(WRITES_ON_RUNNING)
}

fn progress_ceiling(dir: &Path, durability: Durability) -> Sample {
    let mut conn = open_ceiling(dir, durability);
    let id = ceiling_running(&mut conn);
    let timer = Timer::start();
    for n in 0..WRITES_ON_RUNNING {
        conn.prepare_cached("UPDATE jobs SET progress = ?2 WHERE id = ?1")
            .expect("prepare")
            .execute(params![id, (n % 100) as f64])
            .expect("progress");
    }
    timer.rate(WRITES_ON_RUNNING)
}
