//! Four OS processes share one database: each enqueues 10,000 tasks while all of them claim
//! and complete whatever is there. Every task must run exactly once: none lost, none twice.
//!
//! The worker processes are this test binary again, started with `--exact` on
//! `multi_process_worker` and told by environment variables where to connect; in a normal run
//! that entry point returns at once.

use std::collections::HashSet;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use tasks_core::{
    ClaimRequest, Finish, NewTask, TaskFilter, TaskListQuery, TaskStatus, TaskStore, Timestamp,
};
use tasks_store_postgres::{PostgresTaskStore, testing};

const WORKERS: usize = 4;
const TASKS_PER_WORKER: usize = 10_000;
const ROLE: &str = "TASKS_PG_TEST_WORKER";
const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

#[test]
fn four_processes_run_every_task_exactly_once() {
    if std::env::var(ROLE).is_ok() {
        return;
    }
    let Some(options) = testing::fresh_options() else { return };
    let Some(server) = testing::server() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let exe = std::env::current_exe().expect("this test binary");
    let children: Vec<_> = (0..WORKERS)
        .map(|index| {
            Command::new(&exe)
                .args(["--exact", "multi_process_worker", "--nocapture", "--test-threads=1"])
                .env(ROLE, index.to_string())
                .env("TASKS_PG_TEST_URL", server.url())
                .env("TASKS_PG_TEST_SCHEMA", &options.schema)
                .env("TASKS_PG_TEST_OUT", dir.path().join(format!("ran-{index}.txt")))
                // The workers' own test summaries would read as this binary's; failures still
                // show on stderr.
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("start a worker process")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("worker exit").success(), "a worker process failed");
    }
    let mut ran = Vec::new();
    for index in 0..WORKERS {
        let text = std::fs::read_to_string(dir.path().join(format!("ran-{index}.txt")))
            .expect("worker output");
        ran.extend(text.lines().map(str::to_owned));
    }
    let unique: HashSet<&String> = ran.iter().collect();
    assert_eq!(unique.len(), ran.len(), "no task ran twice");
    assert_eq!(ran.len(), WORKERS * TASKS_PER_WORKER, "no task was lost");
    let store = PostgresTaskStore::connect(options).expect("connect");
    let aggregate = store.aggregate(&TaskFilter::all()).expect("aggregate");
    assert_eq!(aggregate.by_status.succeeded, (WORKERS * TASKS_PER_WORKER) as u64);
    assert_eq!(aggregate.total, (WORKERS * TASKS_PER_WORKER) as u64);
    let retried = store
        .list(
            &TaskListQuery::filtered(TaskFilter {
                statuses: vec![TaskStatus::Succeeded],
                ..TaskFilter::all()
            })
            .limit(10_000),
        )
        .expect("list")
        .into_iter()
        .filter(|task| task.attempt != 1)
        .count();
    assert_eq!(retried, 0, "every task ran in its first attempt");
}

/// The worker role: enqueue this worker's tasks in batches, interleaved with claiming and
/// completing any task, until every task of every worker has succeeded.
#[test]
fn multi_process_worker() {
    let Ok(index) = std::env::var(ROLE) else { return };
    let url = std::env::var("TASKS_PG_TEST_URL").expect("url");
    let schema = std::env::var("TASKS_PG_TEST_SCHEMA").expect("schema");
    let out = std::env::var("TASKS_PG_TEST_OUT").expect("out");
    let store = PostgresTaskStore::connect(testing::options_for(&url, &schema)).expect("connect");
    let runner = format!("process-{index}");
    let request = ClaimRequest::new(runner.as_str(), 100, Duration::from_secs(600));
    let mut to_enqueue: Vec<NewTask> = (0..TASKS_PER_WORKER)
        .map(|n| NewTask::new("work", json!({ "worker": index, "n": n })))
        .collect();
    let mut ran = Vec::new();
    let mut rounds = 0u64;
    let deadline = Instant::now() + Duration::from_secs(300);
    let total = (WORKERS * TASKS_PER_WORKER) as u64;
    loop {
        assert!(Instant::now() < deadline, "the run took too long");
        if !to_enqueue.is_empty() {
            let rest = to_enqueue.split_off(to_enqueue.len().saturating_sub(500));
            store.enqueue_batch(rest, T0).expect("enqueue");
        }
        let claimed = store.claim(&request, T0).expect("claim");
        rounds += 1;
        if rounds.is_multiple_of(4) {
            // Every fourth batch one completion per call, the others in one batch.
            for task in &claimed {
                let lease = task.lease().expect("a claimed task has a lease");
                store.complete(&lease, json!({ "by": runner }), T0).expect("our lease holds");
            }
        } else {
            let done: Vec<Finish> = claimed
                .iter()
                .map(|task| Finish::Complete {
                    lease: task.lease().expect("a claimed task has a lease"),
                    output: json!({ "by": runner }),
                })
                .collect();
            for result in store.finish_batch(&done, T0).expect("finish_batch") {
                result.expect("our lease holds");
            }
        }
        ran.extend(claimed.iter().map(|task| task.id.to_string()));
        if claimed.is_empty() && to_enqueue.is_empty() {
            let done = store
                .aggregate(&TaskFilter {
                    statuses: vec![TaskStatus::Succeeded],
                    ..TaskFilter::all()
                })
                .expect("aggregate");
            if done.total == total {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let mut file = std::fs::File::create(out).expect("output file");
    for id in ran {
        writeln!(file, "{id}").expect("write");
    }
}
