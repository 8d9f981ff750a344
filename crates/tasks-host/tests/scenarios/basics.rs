//! The everyday paths: the spec's Quick Start end to end, registering handlers while running,
//! the host's state through start, stop and restart, concurrency limits, bulk enqueue, and
//! every store call kept off the runtime's workers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tasks_core::{
    EnqueueDisposition, EnqueueOptions, LifecycleEventName as L, LifecycleState, NewStep, NewTask,
    ProgressUpdate, SnapshotOptions, TaskFilter, TaskStore,
};
use tasks_exec_inproc::{TaskContext, TaskFailure, from_fn};
use tasks_host::{HandlerRegistration, HostStatus, RetryPolicy, TaskHost};

use crate::support::{Recorder, STARTED, Wrapped, eventually, fast_options, record};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportInput {
    report_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportOutput {
    output_path: String,
}

fn report_handler() -> HandlerRegistration {
    let handler = from_fn(|input: ReportInput, ctx: TaskContext| async move {
        ctx.set_progress(ProgressUpdate::percent(10.0).label("loading inputs"))?;
        ctx.append_step(
            NewStep::info(format!("Preparing report {}", input.report_id)).percent(10.0),
        )?;
        tokio::task::yield_now().await;
        let meta = serde_json::Map::from_iter([("reportId".to_owned(), json!(input.report_id))]);
        ctx.set_progress(ProgressUpdate::percent(100.0).label("done").meta(meta))?;
        Ok::<_, TaskFailure>(ReportOutput {
            output_path: format!("/tmp/reports/{}.json", input.report_id),
        })
    });
    HandlerRegistration::new("report.generate", handler)
        .concurrency(2)
        .retry(RetryPolicy::attempts(3))
}

pub(crate) async fn quick_start(store: Arc<dyn TaskStore>) {
    let host = TaskHost::builder_from_arc(store)
        .options(fast_options("runner-a"))
        .handler(report_handler())
        .build()
        .expect("a valid host");
    let events = Recorder::attach(&host);
    let options =
        || EnqueueOptions::new().dedupe_key("report:rpt_42").concurrency_key("report:rpt_42");
    let input = json!({ "reportId": "rpt_42" });
    let queued = host.enqueue("report.generate", &input, options()).await.expect("enqueued");
    assert_eq!(queued.disposition, EnqueueDisposition::Created);
    let again = host.enqueue("report.generate", &input, options()).await.expect("enqueued");
    assert_eq!(again.disposition, EnqueueDisposition::Reused);
    assert_eq!(again.task.id, queued.task.id);
    assert_eq!(again.reused_task_id.as_ref(), Some(&queued.task.id));
    let id = queued.task.id.clone();

    host.start().await.expect("started");
    let succeeded = events.wait(&id, L::Succeeded).await;
    let step = events.wait(&id, L::Step).await;
    assert_eq!(
        step.step.as_ref().map(|step| step.message.as_str()),
        Some("Preparing report rpt_42")
    );
    assert_eq!(step.step.as_ref().map(|step| step.seq), Some(1));
    assert_eq!(succeeded.snapshot.as_ref().and_then(|s| s.progress.percent), Some(100.0));

    let snapshot = host
        .read_snapshot(&id, SnapshotOptions { include_steps: Some(20) })
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(snapshot.state, LifecycleState::Succeeded);
    assert_eq!(snapshot.progress.percent, Some(100.0));
    assert_eq!(snapshot.progress.label.as_deref(), Some("done"));
    assert_eq!(snapshot.attempt, 1);
    assert_eq!(snapshot.max_attempts, 3);
    assert_eq!(snapshot.output, Some(json!({ "outputPath": "/tmp/reports/rpt_42.json" })));
    let steps = snapshot.steps.expect("steps were asked for");
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].percent, Some(10.0));

    let names = events.names(&id);
    let position = |name: L| names.iter().position(|seen| *seen == name).expect("event seen");
    assert!(position(L::Enqueued) < position(L::Claimed));
    assert!(position(L::Claimed) < position(L::Started));
    assert!(position(L::Started) < position(L::Step));
    assert!(position(L::Step) < position(L::Succeeded));
    assert!(events.count(&id, L::Progress) >= 2, "{names:?}");

    let aggregate = host.read_aggregate(TaskFilter::all()).await.expect("read");
    assert_eq!(aggregate.by_state.succeeded, 1);
    let record = host.get_task(&id).await.expect("read").expect("exists");
    assert_eq!(record.status, tasks_core::TaskStatus::Succeeded);
    let by_state = |state| tasks_core::SnapshotQuery {
        list: tasks_core::TaskListQuery::filtered(TaskFilter {
            states: vec![state],
            ..TaskFilter::all()
        }),
        include_steps: Some(5),
    };
    let done = host.list_snapshots(by_state(LifecycleState::Succeeded)).await.expect("listed");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].steps.as_ref().map(Vec::len), Some(1));
    let running = host.list_snapshots(by_state(LifecycleState::Running)).await.expect("listed");
    assert!(running.is_empty());
    let steps = host.list_task_steps(&id, tasks_core::StepQuery::after(0, 10)).await.expect("ok");
    assert_eq!(steps.len(), 1);
    host.stop().await.expect("stopped");
}

pub(crate) async fn handlers_registered_at_runtime_run(store: Arc<dyn TaskStore>) {
    let host =
        TaskHost::builder_from_arc(store).options(fast_options("runner-a")).build().expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let queued =
        host.enqueue("late.kind", &json!({"n": 1}), EnqueueOptions::new()).await.expect("enqueued");
    // No handler yet: the task waits in the queue for one.
    assert!(host.state().kinds.is_empty());
    let echo =
        from_fn(|input: Value, _ctx: TaskContext| async move { Ok::<_, TaskFailure>(input) });
    host.register_handler(HandlerRegistration::new("late.kind", echo)).expect("registered");
    let done = events.wait(&queued.task.id, L::Succeeded).await;
    assert_eq!(done.output, Some(json!({"n": 1})));
    assert_eq!(host.state().kinds, vec!["late.kind".to_owned()]);
    let bad = HandlerRegistration::new(
        "bad kind",
        from_fn(|v: Value, _c: TaskContext| async move { Ok::<_, TaskFailure>(v) }),
    );
    assert!(host.register_handler(bad).is_err());
    host.stop().await.expect("stopped");
}

pub(crate) async fn state_and_restart(store: Arc<dyn TaskStore>) {
    let echo =
        from_fn(|input: Value, _ctx: TaskContext| async move { Ok::<_, TaskFailure>(input) });
    let host = TaskHost::builder_from_arc(store)
        .options(fast_options("runner-state").concurrency(7))
        .handler(HandlerRegistration::new("echo", echo))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    let state = host.state();
    assert_eq!((state.status, state.concurrency, state.active), (HostStatus::Idle, 7, 0));
    assert_eq!(state.runner_id, "runner-state");
    host.start().await.expect("started");
    host.start().await.expect("starting twice is fine");
    assert_eq!(host.state().status, HostStatus::Running);
    assert!(host.state().started_at.is_some());
    host.stop().await.expect("stopped");
    assert_eq!(host.state().status, HostStatus::Stopped);
    host.stop().await.expect("stopping twice is fine");
    // Enqueued while stopped: runs once the host starts again.
    let queued = host.enqueue("echo", &json!(5), EnqueueOptions::new()).await.expect("enqueued");
    host.start().await.expect("restarted");
    events.wait(&queued.task.id, L::Succeeded).await;
    host.stop().await.expect("stopped");
    let runner_events = events.host_events();
    let starts = runner_events
        .iter()
        .filter(|event| event.event_type == tasks_core::HostEventType::RunnerStarted)
        .count();
    assert_eq!(starts, 2);
}

/// An attempt gives its concurrency slot back when its execution ends, but the host's state
/// counts it as active, and `stop` waits for it, until its final write has landed.
pub(crate) async fn an_attempt_is_active_until_its_final_write_lands(store: Arc<dyn TaskStore>) {
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&ran);
    let handler = from_fn(move |_: Value, _ctx: TaskContext| {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, TaskFailure>(json!("done"))
        }
    });
    let wrapped = Arc::new(Wrapped::new(Arc::clone(&store)));
    let host = TaskHost::builder_from_arc(Arc::clone(&wrapped) as Arc<dyn TaskStore>)
        .options(fast_options("runner-a").concurrency(1))
        .handler(HandlerRegistration::new("quick", handler))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    wrapped.finishes.close();
    host.start().await.expect("started");
    let id = host.enqueue("quick", &json!(null), EnqueueOptions::new()).await.expect("ok").task.id;
    let probe = Arc::clone(&wrapped);
    eventually("the final write to reach the store", || {
        let probe = Arc::clone(&probe);
        async move { probe.calls("finish_batch") == 1 }
    })
    .await;
    assert_eq!(ran.load(Ordering::SeqCst), 1, "the execution is over");
    assert_eq!(host.state().active, 1, "a task whose final write is pending is still active");
    assert_eq!(host.state().active_by_kind.get("quick"), Some(&1));
    let stopping = {
        let host = host.clone();
        tokio::spawn(async move { host.stop().await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!stopping.is_finished(), "stop waits for the pending final write");
    wrapped.finishes.open();
    stopping.await.expect("joined").expect("stopped");
    events.wait(&id, L::Succeeded).await;
    assert_eq!(host.state().active, 0);
    assert_eq!(record(&store, &id).await.status, tasks_core::TaskStatus::Succeeded);
}

/// A claim made while a finished execution's last writes are still on their way sees its task
/// still running (here: its concurrency key held) and comes back short; once those writes land
/// the host claims again at once, not at the next poll (an hour away here).
pub(crate) async fn a_claim_short_for_a_finishing_task_is_made_again(store: Arc<dyn TaskStore>) {
    let handler = from_fn(|_: Value, ctx: TaskContext| async move {
        ctx.step("working")?;
        Ok::<_, TaskFailure>(json!("done"))
    });
    let wrapped = Arc::new(Wrapped::new(Arc::clone(&store)));
    let host = TaskHost::builder_from_arc(Arc::clone(&wrapped) as Arc<dyn TaskStore>)
        .options(fast_options("runner-a").concurrency(1).poll_interval(Duration::from_secs(3600)))
        .handler(HandlerRegistration::new("keyed", handler))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    let keyed = || EnqueueOptions::new().concurrency_key("one-at-a-time");
    let tasks = vec![
        NewTask::new("keyed", json!(1)).with_options(keyed()),
        NewTask::new("keyed", json!(2)).with_options(keyed()),
    ];
    let queued = host.enqueue_batch(tasks).await.expect("enqueued");
    // The first task's step write is held: its execution is over, its slot free, its task
    // still running in the store.
    wrapped.steps.close();
    host.start().await.expect("started");
    let probe = Arc::clone(&wrapped);
    eventually("a second claim while the first task's writes are held", || {
        let probe = Arc::clone(&probe);
        async move { probe.calls("claim_and_start") >= 2 }
    })
    .await;
    assert_eq!(wrapped.calls(STARTED), 1, "the second task's key is still held");
    wrapped.steps.open();
    events.wait(&queued[0].task.id, L::Succeeded).await;
    events.wait(&queued[1].task.id, L::Succeeded).await;
    host.stop().await.expect("stopped");
}

pub(crate) async fn per_kind_and_global_concurrency_hold(store: Arc<dyn TaskStore>) {
    #[derive(Default)]
    struct Gauge {
        now: AtomicUsize,
        peak: AtomicUsize,
    }
    let limited = Arc::new(Gauge::default());
    let all = Arc::new(Gauge::default());
    let make = |gauge: Arc<Gauge>, all: Arc<Gauge>| {
        from_fn(move |_: Value, _ctx: TaskContext| {
            let (gauge, all) = (Arc::clone(&gauge), Arc::clone(&all));
            async move {
                for g in [&gauge, &all] {
                    let now = g.now.fetch_add(1, Ordering::SeqCst) + 1;
                    g.peak.fetch_max(now, Ordering::SeqCst);
                }
                // Stay busy long enough for the others to be claimed if limits allowed it.
                tokio::time::sleep(Duration::from_millis(15)).await;
                gauge.now.fetch_sub(1, Ordering::SeqCst);
                all.now.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, TaskFailure>(())
            }
        })
    };
    let free = Arc::new(Gauge::default());
    let host = TaskHost::builder_from_arc(store)
        .options(fast_options("runner-a").concurrency(3))
        .handler(
            HandlerRegistration::new("limited", make(Arc::clone(&limited), Arc::clone(&all)))
                .concurrency(2),
        )
        .handler(HandlerRegistration::new("free", make(Arc::clone(&free), Arc::clone(&all))))
        .build()
        .expect("valid");
    let tasks: Vec<NewTask> = (0..8)
        .flat_map(|_| [NewTask::new("limited", json!(null)), NewTask::new("free", json!(null))])
        .collect();
    host.enqueue_batch(tasks).await.expect("enqueued");
    host.start().await.expect("started");
    let probe = host.clone();
    eventually("every task to succeed", || {
        let probe = probe.clone();
        async move {
            let filter =
                TaskFilter { states: vec![LifecycleState::Succeeded], ..TaskFilter::all() };
            probe.read_aggregate(filter).await.expect("read").total == 16
        }
    })
    .await;
    host.stop().await.expect("stopped");
    assert!(limited.peak.load(Ordering::SeqCst) <= 2, "per-kind limit broken");
    assert!(all.peak.load(Ordering::SeqCst) <= 3, "global limit broken");
    assert!(all.peak.load(Ordering::SeqCst) >= 2, "tasks ran one at a time");
}

pub(crate) async fn bulk_enqueue_runs_every_task(store: Arc<dyn TaskStore>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    let handler = from_fn(move |_: Value, _ctx: TaskContext| {
        let seen = Arc::clone(&seen);
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            Ok::<_, TaskFailure>(())
        }
    });
    let host = TaskHost::builder_from_arc(store)
        .options(fast_options("runner-a").concurrency(8))
        .handler(HandlerRegistration::new("noop", handler))
        .build()
        .expect("valid");
    host.start().await.expect("started");
    let tasks: Vec<NewTask> = (0..200).map(|n| NewTask::new("noop", json!(n))).collect();
    let outcomes = host.enqueue_batch(tasks).await.expect("enqueued");
    assert_eq!(outcomes.len(), 200);
    let probe = host.clone();
    eventually("200 successes", || {
        let probe = probe.clone();
        async move {
            let filter =
                TaskFilter { states: vec![LifecycleState::Succeeded], ..TaskFilter::all() };
            probe.read_aggregate(filter).await.expect("read").total == 200
        }
    })
    .await;
    assert_eq!(count.load(Ordering::SeqCst), 200, "each task ran exactly once");
    host.stop().await.expect("stopped");
    assert_eq!(host.state().active, 0);
}

pub(crate) async fn store_calls_stay_off_runtime_workers(store: Arc<dyn TaskStore>) {
    let wrapped = Arc::new(Wrapped::new(store));
    let (violations, dropped) = (Arc::clone(&wrapped.violations), Arc::clone(&wrapped.dropped));
    let probe = Arc::clone(&wrapped);
    let host = TaskHost::builder_from_arc(wrapped)
        .options(
            fast_options("runner-a")
                .watchdog(Some(Duration::from_secs(60)))
                .stale_scan_interval(Duration::from_millis(20))
                .retention_policy(Some(tasks_core::RetentionPolicy {
                    step_limit_per_task: Some(10),
                    ..tasks_core::RetentionPolicy::default()
                }))
                .retention_interval(Duration::from_millis(20)),
        )
        .handler(report_handler())
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let queued = host
        .enqueue("report.generate", &json!({"reportId": "r1"}), EnqueueOptions::new())
        .await
        .expect("enqueued");
    events.wait(&queued.task.id, L::Succeeded).await;
    let later = EnqueueOptions::new().delay(Duration::from_secs(3600));
    let waiting =
        host.enqueue("report.generate", &json!({"reportId": "r2"}), later).await.expect("enqueued");
    host.cancel(&waiting.task.id, Some("not needed")).await.expect("cancelled");
    host.list_tasks(tasks_core::TaskListQuery::all()).await.expect("listed");
    host.bootstrap(tasks_core::SubscriptionQuery::default()).await.expect("bootstrap");
    events
        .wait_host("a retention run", |event| {
            event.event_type == tasks_core::HostEventType::RetentionCompleted
        })
        .await;
    host.stop().await.expect("stopped");
    assert!(probe.calls("claim_and_start") >= 1 && probe.calls(STARTED) >= 1);
    assert!(probe.calls("finish_batch") >= 1);
    assert!(probe.calls("recover_expired") >= 1 && probe.calls("compact") >= 1);
    // The host now holds the last reference: dropping it here, on the runtime, must not drop
    // the store here.
    drop(probe);
    drop(host);
    eventually("the store to be dropped", || {
        let dropped = Arc::clone(&dropped);
        async move { dropped.load(Ordering::SeqCst) == 1 }
    })
    .await;
    assert_eq!(violations.load(Ordering::SeqCst), 0, "a store call ran on a runtime worker");
}
