//! Child-process executor benchmark: spawn-to-result time of a trivial Rust child (median and
//! p99, next to a bare spawn-and-wait of the same binary for reference), and tasks per second
//! with 8 children at a time (the median of 3 rounds).
//!
//! `cargo bench -p tasks-exec-process --bench process`; `TASKS_BENCH_RUNS` sets how many
//! sequential runs are timed (300 by default) and `TASKS_BENCH_TASKS` how many tasks the
//! concurrent run makes (800 by default).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tasks_core::{
    CancelHandle, Execution, ExecutionOutcome, NewStep, ProgressUpdate, ReportError, TaskExecutor,
    TaskId, TaskInvocation, TaskReporter,
};
use tasks_exec_process::ProcessExecutor;

const DEMO: &str = env!("CARGO_BIN_EXE_tasks-child-demo");
const CONCURRENCY: usize = 8;

/// Takes every report and keeps nothing.
struct Discard;

impl TaskReporter for Discard {
    fn set_progress(&self, _: ProgressUpdate) -> Result<(), ReportError> {
        Ok(())
    }
    fn append_step(&self, _: NewStep) -> Result<(), ReportError> {
        Ok(())
    }
    fn heartbeat(&self) -> Result<(), ReportError> {
        Ok(())
    }
}

fn execution(index: u64) -> Execution {
    Execution {
        invocation: TaskInvocation {
            id: TaskId::generate(),
            kind: "bench.echo".to_owned(),
            attempt: 1,
            max_attempts: 1,
            metadata: None,
            channels: Vec::new(),
            concurrency_key: None,
            dedupe_key: None,
            supersede_key: None,
            input: json!({ "mode": "echo", "value": index }),
        },
        reporter: Arc::new(Discard),
        cancel: CancelHandle::new().signal(),
    }
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

/// The median and 99th percentile of `times`, sorted in place.
fn median_p99(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    let at = |fraction: f64| times[((times.len() - 1) as f64 * fraction).round() as usize];
    (at(0.5), at(0.99))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

async fn spawn_to_result(executor: &ProcessExecutor, runs: usize) {
    let mut times = Vec::with_capacity(runs);
    for index in 0..runs as u64 {
        let started = Instant::now();
        let outcome = executor.execute(execution(index)).await;
        times.push(started.elapsed());
        assert_eq!(outcome, ExecutionOutcome::Succeeded(json!(index)), "the child echoes");
    }
    let (median, p99) = median_p99(&mut times);
    println!(
        "spawn-to-result, trivial Rust child ({runs} runs): median {:.2} ms, p99 {:.2} ms",
        ms(median),
        ms(p99)
    );
}

/// The same binary started and waited for with no protocol, for reference.
async fn bare_spawn(runs: usize) {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let status = tokio::process::Command::new(DEMO)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await
            .expect("the demo starts");
        times.push(started.elapsed());
        assert!(status.success());
    }
    let (median, p99) = median_p99(&mut times);
    println!(
        "bare spawn-and-wait of the same binary ({runs} runs): median {:.2} ms, p99 {:.2} ms",
        ms(median),
        ms(p99)
    );
}

/// Tasks per second with [`CONCURRENCY`] children at a time, over `tasks` tasks.
async fn throughput(executor: &ProcessExecutor, tasks: usize) -> f64 {
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let executor = executor.clone();
        let next = Arc::clone(&next);
        workers.spawn(async move {
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if index >= tasks as u64 {
                    return;
                }
                let outcome = executor.execute(execution(index)).await;
                assert_eq!(outcome, ExecutionOutcome::Succeeded(json!(index)), "the child echoes");
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("a worker ends");
    }
    tasks as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let runs = setting("TASKS_BENCH_RUNS", 300).max(1);
    let tasks = setting("TASKS_BENCH_TASKS", 800).max(1);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let executor = ProcessExecutor::new(DEMO);
        // Warm the page cache and tokio's process machinery.
        spawn_to_result(&executor, 10.min(runs)).await;
        println!("--");
        bare_spawn(runs).await;
        spawn_to_result(&executor, runs).await;
        let mut rounds = Vec::new();
        for _ in 0..3 {
            rounds.push(throughput(&executor, tasks).await);
        }
        let shown: Vec<String> = rounds.iter().map(|rate| format!("{rate:.0}")).collect();
        rounds.sort_by(f64::total_cmp);
        println!(
            "throughput at concurrency {CONCURRENCY} ({tasks} tasks, 3 rounds: {} tasks/s): median {:.0} tasks/s",
            shown.join(", "),
            rounds[1]
        );
    });
}
