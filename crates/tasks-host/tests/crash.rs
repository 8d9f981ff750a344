//! A host process killed with SIGKILL in the middle of a task, on SQLite: a second host
//! process recovers the task once the dead host's lease runs out, and finishes it as attempt 2.
//!
//! The host processes are this very test binary, started again with
//! [`CHILD_ENV`] set: [`child_process_entry_point`] then runs a host instead of returning.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tasks_core::{EnqueueOptions, NewTask, StepQuery, TaskId, TaskRecord, TaskStatus, TaskStore};
use tasks_exec_inproc::{TaskContext, TaskFailure, from_fn};
use tasks_host::{HandlerRegistration, RunnerOptions, TaskHost};
use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};

/// Set to `MODE:PATH` in a child host: `hang` runs the task forever, `finish` completes it.
const CHILD_ENV: &str = "TASKS_HOST_CRASH_CHILD";
const KIND: &str = "crash.work";
const PATIENCE: Duration = Duration::from_secs(30);

/// Runs a host when started as a child (with [`CHILD_ENV`] set); returns at once otherwise.
#[test]
fn child_process_entry_point() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let (mode, path) = spec.split_once(':').expect("MODE:PATH");
    let store = SqliteTaskStore::open(SqliteOptions::new(path)).expect("the store opens");
    let hang = mode == "hang";
    let handler = from_fn(move |_: Value, ctx: TaskContext| async move {
        ctx.step(format!("attempt {} started", ctx.attempt()))?;
        if hang {
            // Work that never ends: the process is killed in the middle of it.
            std::future::pending::<()>().await;
        }
        Ok::<_, TaskFailure>(json!({ "attempt": ctx.attempt(), "pid": std::process::id() }))
    });
    let options = RunnerOptions::default()
        .runner_id(format!("{mode}-{}", std::process::id()))
        .lease(Duration::from_millis(1500))
        .heartbeat(Duration::from_millis(100))
        .poll_interval(Duration::from_millis(20))
        .stale_scan_interval(Duration::from_millis(50))
        .watchdog(None);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let host = TaskHost::builder(store)
            .options(options)
            .handler(HandlerRegistration::new(KIND, handler))
            .build()
            .expect("a valid host");
        host.start().await.expect("started");
        // Run until the parent kills this process.
        std::future::pending::<()>().await;
    });
}

fn spawn_host(mode: &str, path: &Path) -> Child {
    Command::new(std::env::current_exe().expect("the test binary"))
        .args(["child_process_entry_point", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{mode}:{}", path.display()))
        .stdout(Stdio::null())
        .spawn()
        .expect("the child host starts")
}

/// Waits until the task passes `check`, failing fast if `child` died on its own.
fn wait_for(
    store: &SqliteTaskStore,
    id: &TaskId,
    child: &mut Child,
    what: &str,
    check: impl Fn(&TaskRecord) -> bool,
) -> TaskRecord {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let record = store.get(id).expect("the store answers").expect("the task exists");
        if check(&record) {
            return record;
        }
        if let Some(status) = child.try_wait().expect("the child can be polled") {
            panic!("the child host exited ({status}) before {what}");
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {record:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_task_of_a_killed_host_is_finished_by_another_as_attempt_two() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("tasks.sqlite");
    let store = SqliteTaskStore::open(SqliteOptions::new(&path)).expect("the store opens");
    let now = tasks_core::Timestamp::now_utc();
    let task = NewTask::new(KIND, json!({})).with_options(EnqueueOptions::new().max_attempts(3));
    let id = store.enqueue(task, now).expect("enqueued").task.id;

    let mut doomed = spawn_host("hang", &path);
    let running = wait_for(&store, &id, &mut doomed, "the first host to run the task", |record| {
        record.status == TaskStatus::Running && record.last_step_seq >= 1
    });
    let dead_runner = running.lease_owner.clone().expect("an owner");
    // SIGKILL: no stop, no release, no last write.
    doomed.kill().expect("killed");
    doomed.wait().expect("reaped");
    let orphan = store.get(&id).expect("read").expect("exists");
    assert_eq!(orphan.status, TaskStatus::Running, "nobody released it");
    // Attempt 1, unless a loaded machine starved the first host's heartbeats long enough for
    // it to recover and claim its own task again before it was killed.
    let killed_attempt = orphan.attempt;

    let mut rescuer = spawn_host("finish", &path);
    let done =
        wait_for(&store, &id, &mut rescuer, "the second host to finish the task", |record| {
            record.status.is_terminal()
        });
    rescuer.kill().expect("killed");
    rescuer.wait().expect("reaped");

    assert_eq!(done.status, TaskStatus::Succeeded);
    assert_eq!(done.attempt, killed_attempt + 1);
    let output_attempt = done.output.as_ref().and_then(|output| output.get("attempt"));
    assert_eq!(output_attempt, Some(&json!(killed_attempt + 1)));
    assert_ne!(done.lease_owner.as_deref(), Some(dead_runner.as_str()));
    let steps = store.list_steps(&id, &StepQuery::default()).expect("steps");
    let messages: Vec<&str> = steps.iter().map(|step| step.message.as_str()).collect();
    assert_eq!(messages.first(), Some(&"attempt 1 started"));
    assert!(messages.iter().any(|message| message.contains(&dead_runner)), "{messages:?}");
    let last = format!("attempt {} started", killed_attempt + 1);
    assert_eq!(messages.last().copied(), Some(last.as_str()));
}
