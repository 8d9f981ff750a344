//! End to end: children run by a real [`TaskHost`] on a real SQLite store. Progress and steps
//! reach the database, a failing child is retried per the kind's policy, a cancel and a
//! timeout stop the child.

mod support;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tasks_core::{
    Backoff, EnqueueOptions, LifecycleEventName, StepKind, StepQuery, TaskId, TaskLifecycleEvent,
    TaskRecord, TaskStatus, TaskStore,
};
use tasks_exec_process::{EXIT_CODE, ProcessExecutor};
use tasks_host::{HandlerRegistration, RetryPolicy, RunnerOptions, TIMEOUT_CODE, TaskHost};
use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};
use tokio::sync::watch;

use support::{DEMO, numbers, wait_group_gone};

/// A host on a fresh SQLite file, with its lifecycle events collected.
struct Harness {
    host: TaskHost,
    path: PathBuf,
    events: Arc<Mutex<Vec<TaskLifecycleEvent>>>,
    changed: watch::Sender<usize>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start(registrations: Vec<HandlerRegistration>) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("tasks.sqlite");
        let store = SqliteTaskStore::open(SqliteOptions::new(&path)).expect("the store opens");
        let options = RunnerOptions::default()
            .runner_id("process-runner")
            .poll_interval(Duration::from_millis(25))
            .heartbeat(Duration::from_millis(100))
            .watchdog(None)
            .progress_flush_interval(Duration::from_millis(10))
            .cancel_grace(Duration::from_secs(5));
        let mut builder = TaskHost::builder(store).options(options);
        for registration in registrations {
            builder = builder.handler(registration);
        }
        let host = builder.build().expect("a valid host");
        let events = Arc::new(Mutex::new(Vec::new()));
        let changed = watch::channel(0).0;
        let (sink, notify) = (Arc::clone(&events), changed.clone());
        host.on_lifecycle_event(move |event| {
            sink.lock().unwrap_or_else(PoisonError::into_inner).push(event.clone());
            notify.send_modify(|count| *count += 1);
        });
        host.start().await.expect("the host starts");
        Harness { host, path, events, changed, _dir: dir }
    }

    fn events_of(&self, id: &TaskId) -> Vec<TaskLifecycleEvent> {
        let events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        events.iter().filter(|event| &event.task_id == id).cloned().collect()
    }

    /// Waits (30 s at most) for event `name` of task `id`.
    async fn wait(&self, id: &TaskId, name: LifecycleEventName) -> TaskLifecycleEvent {
        let mut changes = self.changed.subscribe();
        let wait = async {
            loop {
                if let Some(event) =
                    self.events_of(id).into_iter().find(|event| event.event == name)
                {
                    return event;
                }
                changes.changed().await.expect("the host lives");
            }
        };
        tokio::time::timeout(Duration::from_secs(30), wait).await.unwrap_or_else(|_| {
            let seen: Vec<_> = self.events_of(id).iter().map(|event| event.event).collect();
            panic!("no {name:?} for {id}; seen {seen:?}")
        })
    }

    async fn enqueue(&self, kind: &str, input: Value) -> TaskId {
        self.host.enqueue(kind, &input, EnqueueOptions::new()).await.expect("enqueued").task.id
    }

    async fn record(&self, id: &TaskId) -> TaskRecord {
        self.host.get_task(id).await.expect("readable").expect("the task exists")
    }
}

fn quick_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy::attempts(attempts).backoff(Backoff::constant(Duration::from_millis(10)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_child_reports_progress_and_steps_through_a_host_on_sqlite() {
    let harness =
        Harness::start(vec![HandlerRegistration::new("report.split", ProcessExecutor::new(DEMO))])
            .await;
    let id = harness.enqueue("report.split", json!({"mode": "report", "steps": 4})).await;
    let done = harness.wait(&id, LifecycleEventName::Succeeded).await;
    assert_eq!(done.snapshot.as_ref().and_then(|snapshot| snapshot.progress.percent), Some(100.0));
    harness.host.stop().await.expect("the host stops");

    // What the child reported is in the database, as a fresh store on the same file reads it.
    let store = SqliteTaskStore::open(SqliteOptions::new(&harness.path)).expect("the store opens");
    let record = store.get(&id).expect("readable").expect("the task exists");
    assert_eq!(record.status, TaskStatus::Succeeded);
    assert_eq!(record.output, Some(json!({"parts": 4, "attempt": 1, "id": id.as_str()})));
    assert_eq!(record.progress_percent, Some(100.0));
    assert_eq!(record.progress_label.as_deref(), Some("part 4"));
    let steps = store.list_steps(&id, &StepQuery::default()).expect("steps");
    let checkpoints: Vec<_> =
        steps.iter().filter(|step| step.kind == StepKind::Checkpoint).collect();
    assert_eq!(checkpoints.len(), 4);
    assert_eq!(checkpoints[0].message, "finished part 1");
    assert_eq!(checkpoints[3].percent, Some(100.0));
    let seqs: Vec<u64> = steps.iter().map(|step| step.seq).collect();
    assert_eq!(seqs, (1..=steps.len() as u64).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_exiting_non_zero_is_retried_per_policy() {
    let flaky = ProcessExecutor::new("sh").arg("-c").arg(
        r#"if [ "$TASKS_ATTEMPT" -lt 2 ]; then echo "attempt $TASKS_ATTEMPT broke" >&2; exit 3; fi
           echo "{\"type\":\"result\",\"output\":{\"attempt\":$TASKS_ATTEMPT}}""#,
    );
    let broken = ProcessExecutor::new("sh").arg("-c").arg("echo 'always broken' >&2; exit 4");
    let harness = Harness::start(vec![
        HandlerRegistration::new("flaky", flaky).retry(quick_retries(3)),
        HandlerRegistration::new("broken", broken).retry(quick_retries(2)),
    ])
    .await;
    let flaky_id = harness.enqueue("flaky", json!({})).await;
    let broken_id = harness.enqueue("broken", json!({})).await;

    let retried = harness.wait(&flaky_id, LifecycleEventName::Retried).await;
    let error = retried.error.expect("the retry carries the error");
    assert_eq!(error.code.as_deref(), Some(EXIT_CODE));
    assert_eq!(error.message, "attempt 1 broke");
    harness.wait(&flaky_id, LifecycleEventName::Succeeded).await;
    let record = harness.record(&flaky_id).await;
    assert_eq!((record.status, record.attempt), (TaskStatus::Succeeded, 2));
    assert_eq!(record.output, Some(json!({"attempt": 2})));

    harness.wait(&broken_id, LifecycleEventName::Failed).await;
    let record = harness.record(&broken_id).await;
    assert_eq!((record.status, record.attempt), (TaskStatus::Failed, 2));
    let error = record.error.expect("the failure is recorded");
    assert_eq!(error.code.as_deref(), Some(EXIT_CODE));
    assert_eq!(error.details, Some(json!({"exitCode": 4})));
    harness.host.stop().await.expect("the host stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_through_the_host_stops_the_child() {
    let waiting = ProcessExecutor::new("sh")
        .arg("-c")
        .arg(r#"sleep 1000 & echo "pids $$ $!"; wait"#)
        .kill_grace(Duration::from_secs(2));
    let harness = Harness::start(vec![HandlerRegistration::new("waiting", waiting)]).await;
    let id = harness.enqueue("waiting", json!({})).await;
    let step = harness.wait(&id, LifecycleEventName::Step).await;
    let pids = numbers(&step.step.expect("a step event has its step").message);
    harness.host.cancel(&id, Some("no longer needed")).await.expect("cancelled");
    harness.wait(&id, LifecycleEventName::Cancelled).await;
    assert_eq!(harness.record(&id).await.status, TaskStatus::Cancelled);
    assert!(wait_group_gone(pids[0]).await, "the child and its grandchild are gone");
    harness.host.stop().await.expect("the host stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_through_the_host_kills_a_child_that_ignores_sigterm() {
    let stubborn = ProcessExecutor::new("sh")
        .arg("-c")
        .arg(r#"trap '' TERM; echo "pids $$"; while true; do sleep 1; done"#)
        .kill_grace(Duration::from_millis(200));
    let registration = HandlerRegistration::new("stubborn", stubborn)
        .timeout(Duration::from_millis(500))
        .retry(quick_retries(1));
    let harness = Harness::start(vec![registration]).await;
    let id = harness.enqueue("stubborn", json!({})).await;
    let step = harness.wait(&id, LifecycleEventName::Step).await;
    let pids = numbers(&step.step.expect("a step event has its step").message);
    harness.wait(&id, LifecycleEventName::Failed).await;
    let record = harness.record(&id).await;
    assert_eq!(record.error.and_then(|error| error.code), Some(TIMEOUT_CODE.to_owned()));
    assert!(wait_group_gone(pids[0]).await, "the child is gone");
    harness.host.stop().await.expect("the host stops");
}
