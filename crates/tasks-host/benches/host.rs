//! The host benchmark (`cargo xtask bench host`): drains 20,000 bulk-enqueued no-op tasks with
//! one host at concurrency 32 (tasks/s), the same with 10 progress updates and 5 steps per
//! task, enqueue-to-start latency on an idle host (p50, p99), and peak memory with 100,000
//! queued tasks (in a fresh process, so earlier runs do not count).
//!
//! Runs on the memory store, SQLite (a temporary file, default durability) and PostgreSQL (the
//! test harness's server: `TASKS_POSTGRES_URL` or a throwaway local cluster; skipped when none).
//! Pass store names (`memory`, `sqlite`, `postgres`) to run only those. Each figure is the
//! median of several runs. `TASKS_BENCH_ONLY=drain` runs only the no-op drain (for profiling
//! it).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tasks_core::{HostEventType, NewStep, NewTask, ProgressUpdate, TaskStore};
use tasks_exec_inproc::{TaskContext, TaskFailure, from_fn};
use tasks_host::{HandlerRegistration, RunnerOptions, TaskHost};

const TASKS: usize = 20_000;
const CONCURRENCY: u32 = 32;
const RUNS: usize = 3;
const LATENCY_SAMPLES: usize = 300;
const MEMORY_TASKS: usize = 100_000;
const BATCH: usize = 1_000;

/// A store and what must outlive it.
struct Fixture {
    store: Arc<dyn TaskStore>,
    _guard: Box<dyn std::any::Any + Send>,
}

fn open(name: &str) -> Option<Fixture> {
    match name {
        "memory" => Some(Fixture {
            store: Arc::new(tasks_testkit::MemoryStore::new()),
            _guard: Box::new(()),
        }),
        "sqlite" => {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let options = tasks_store_sqlite::SqliteOptions::new(dir.path().join("bench.sqlite"));
            let store = tasks_store_sqlite::SqliteTaskStore::open(options).expect("opens");
            Some(Fixture { store: Arc::new(store), _guard: Box::new(dir) })
        }
        "postgres" => {
            // The harness's prepared schema, with production-sized pools kept warm (the test
            // pools are small and open connections on demand).
            let mut pool = tasks_store_postgres::PoolOptions::default();
            pool.max_size = 16;
            pool.relaxed_max_size = 8;
            pool.min_idle = None;
            let options = tasks_store_postgres::testing::fresh_options()?.pool(pool);
            let store =
                tasks_store_postgres::PostgresTaskStore::connect(options).expect("connects");
            Some(Fixture { store: Arc::new(store), _guard: Box::new(()) })
        }
        _ => None,
    }
}

/// Opens a store off the runtime's workers (the Postgres client must not connect there).
async fn open_blocking(name: &str) -> Option<Fixture> {
    let name = name.to_owned();
    tokio::task::spawn_blocking(move || open(&name)).await.expect("opened")
}

fn options() -> RunnerOptions {
    RunnerOptions::default().runner_id("bench").concurrency(CONCURRENCY).watchdog(None)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn enqueue_all(host: &TaskHost, count: usize, kind: &str) {
    for start in (0..count).step_by(BATCH) {
        let tasks: Vec<NewTask> =
            (start..(start + BATCH).min(count)).map(|n| NewTask::new(kind, json!(n))).collect();
        host.enqueue_batch(tasks).await.expect("enqueued");
    }
}

/// Drains `TASKS` tasks of a fresh store with one host; tasks per second. A task counts once
/// its success is durable: the host tells `task:succeeded` after the store answered the write.
async fn drain(store_name: &str, chatty: bool) -> Option<f64> {
    let fixture = open_blocking(store_name).await?;
    let handler = from_fn(move |_: Value, ctx: TaskContext| async move {
        if chatty {
            for n in 1..=10 {
                ctx.set_progress(ProgressUpdate::percent(f64::from(n) * 10.0))?;
                if n % 2 == 0 {
                    ctx.append_step(NewStep::info(format!("step {}", n / 2)))?;
                }
            }
        }
        Ok::<_, TaskFailure>(())
    });
    let host = TaskHost::builder_from_arc(Arc::clone(&fixture.store))
        .options(options())
        .handler(HandlerRegistration::new("noop", handler))
        .build()
        .expect("valid");
    let done = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&done);
    let _listening = host.on_event(move |event| {
        if event.event_type == HostEventType::TaskSucceeded {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    enqueue_all(&host, TASKS, "noop").await;
    let started = Instant::now();
    host.start().await.expect("started");
    while done.load(Ordering::Relaxed) < TASKS {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = started.elapsed();
    host.stop().await.expect("stopped");
    drop(host);
    tokio::task::spawn_blocking(move || drop(fixture)).await.expect("dropped");
    Some(TASKS as f64 / elapsed.as_secs_f64())
}

/// Enqueue-to-start latency on an idle host, one task at a time.
async fn latency(store_name: &str) -> Option<(Duration, Duration)> {
    let fixture = open_blocking(store_name).await?;
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let handler = from_fn(move |_: Value, _ctx: TaskContext| {
        let sender = sender.clone();
        async move {
            let _ = sender.send(Instant::now());
            Ok::<_, TaskFailure>(())
        }
    });
    let host = TaskHost::builder_from_arc(Arc::clone(&fixture.store))
        .options(options())
        .handler(HandlerRegistration::new("ping", handler))
        .build()
        .expect("valid");
    host.start().await.expect("started");
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for n in 0..LATENCY_SAMPLES + 20 {
        while host.state().active > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let sent = Instant::now();
        host.enqueue("ping", &json!(n), tasks_core::EnqueueOptions::new()).await.expect("enqueued");
        let began = receiver.recv().await.expect("the handler ran");
        // The first runs warm up connections and caches.
        if n >= 20 {
            samples.push(began.duration_since(sent));
        }
    }
    host.stop().await.expect("stopped");
    drop(host);
    tokio::task::spawn_blocking(move || drop(fixture)).await.expect("dropped");
    samples.sort();
    Some((percentile(&samples, 0.5), percentile(&samples, 0.99)))
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// In a fresh process: peak memory after enqueueing `MEMORY_TASKS` tasks.
fn memory_child(store_name: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let Some(fixture) = open_blocking(store_name).await else {
            println!("skipped");
            return;
        };
        let before = vm_hwm_kib().unwrap_or(0);
        let host = TaskHost::builder_from_arc(Arc::clone(&fixture.store))
            .options(options())
            .build()
            .expect("valid");
        enqueue_all(&host, MEMORY_TASKS, "queued.only").await;
        let after = vm_hwm_kib().unwrap_or(0);
        println!("{before} {after}");
        drop(host);
        tokio::task::spawn_blocking(move || drop(fixture)).await.expect("dropped");
    });
}

fn peak_memory(store_name: &str) -> Option<(u64, u64)> {
    let output = std::process::Command::new(std::env::current_exe().ok()?)
        .args(["--memory-child", store_name])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut numbers = text.split_whitespace().filter_map(|word| word.parse::<u64>().ok());
    Some((numbers.next()?, numbers.next()?))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--memory-child") {
        memory_child(args.get(1).map_or("memory", String::as_str));
        return;
    }
    let wanted: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|arg| ["memory", "sqlite", "postgres"].contains(arg))
        .collect();
    let stores: Vec<&str> =
        if wanted.is_empty() { vec!["memory", "sqlite", "postgres"] } else { wanted };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    println!("host benchmark: {TASKS} tasks, concurrency {CONCURRENCY}, median of {RUNS} runs");
    for store in stores {
        let goal = match store {
            "sqlite" => " (goal >= 50,000)",
            "postgres" => " (goal >= 40,000)",
            _ => "",
        };
        let plain: Vec<f64> =
            (0..RUNS).filter_map(|_| runtime.block_on(drain(store, false))).collect();
        if plain.is_empty() {
            println!("{store:>8}: skipped (store not available)");
            continue;
        }
        println!("{store:>8}: no-op drain          {:>9.0} tasks/s{goal}", median(plain));
        if std::env::var("TASKS_BENCH_ONLY").as_deref() == Ok("drain") {
            continue;
        }
        let chatty: Vec<f64> =
            (0..RUNS).filter_map(|_| runtime.block_on(drain(store, true))).collect();
        println!("{store:>8}: 10 progress + 5 steps {:>8.0} tasks/s", median(chatty));
        let latencies: Vec<(Duration, Duration)> =
            (0..RUNS).filter_map(|_| runtime.block_on(latency(store))).collect();
        let p50 = median(latencies.iter().map(|(p50, _)| p50.as_secs_f64() * 1e3).collect());
        let p99 = median(latencies.iter().map(|(_, p99)| p99.as_secs_f64() * 1e3).collect());
        println!(
            "{store:>8}: idle pickup latency   p50 {p50:.2} ms, p99 {p99:.2} ms (goal p50 < 2, p99 < 10)"
        );
        match peak_memory(store) {
            Some((before, after)) => println!(
                "{store:>8}: peak memory with {MEMORY_TASKS} queued: {:.1} MB (VmHWM; {:.1} MB before enqueueing; goal < 150)",
                after as f64 / 1024.0,
                before as f64 / 1024.0
            ),
            None => println!("{store:>8}: peak memory: not measured"),
        }
    }
}
