//! Reports and retention: progress coalesced into few writes (the latest value wins, written
//! before the task finishes) while progress events are told at once up to their pace (the last
//! always told) and every step is kept in order; and retention deleting old finished tasks on
//! its interval.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tasks_core::{
    EnqueueOptions, HostEventType, LifecycleEventName as L, ManualClock, NewStep, ProgressUpdate,
    RetentionPolicy, StepQuery, TaskStore,
};
use tasks_exec_inproc::{TaskContext, TaskFailure, from_fn};
use tasks_host::{HandlerRegistration, TaskHost};

use crate::support::{Recorder, Wrapped, blocking, fast_options, snapshot};

pub(crate) async fn progress_is_coalesced_and_steps_kept_in_order(store: Arc<dyn TaskStore>) {
    let wrapped = Arc::new(Wrapped::new(Arc::clone(&store)));
    let chatty = from_fn(|_: Value, ctx: TaskContext| async move {
        for n in 1..=50u32 {
            ctx.set_progress(
                ProgressUpdate::percent(f64::from(n) * 2.0).label(format!("unit {n}")),
            )?;
            if n % 5 == 0 {
                ctx.append_step(
                    NewStep::info(format!("step {}", n / 5)).percent(f64::from(n) * 2.0),
                )?;
            }
        }
        Ok::<_, TaskFailure>(())
    });
    let host = TaskHost::builder_from_arc(Arc::clone(&wrapped) as Arc<dyn TaskStore>)
        // A long flush interval: everything the handler reports waits for its end. No event
        // pacing: every update is told.
        .options(
            fast_options("runner-a")
                .progress_flush_interval(Duration::from_secs(3600))
                .progress_event_interval(Duration::ZERO),
        )
        .handler(HandlerRegistration::new("chatty", chatty))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let id = host.enqueue("chatty", &json!({}), EnqueueOptions::new()).await.expect("ok").task.id;
    events.wait(&id, L::Succeeded).await;
    assert_eq!(wrapped.calls("set_progress"), 1, "50 updates, one write");
    assert_eq!(wrapped.calls("append_steps"), 1, "10 steps, one batch");
    assert_eq!(events.count(&id, L::Progress), 50, "every update told at once");
    assert_eq!(events.count(&id, L::Step), 10);
    let snapshot = snapshot(&store, &id, 100).await;
    assert_eq!(snapshot.progress.percent, Some(100.0));
    assert_eq!(snapshot.progress.label.as_deref(), Some("unit 50"));
    let steps = snapshot.steps.expect("asked for");
    let messages: Vec<String> = steps.iter().map(|step| step.message.clone()).collect();
    let expected: Vec<String> = (1..=10).map(|n| format!("step {n}")).collect();
    assert_eq!(messages, expected);
    assert_eq!(
        steps.iter().map(|step| step.seq).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<u64>>()
    );
    // The last preview told the same progress the store now holds.
    let last = events
        .lifecycle()
        .into_iter()
        .rev()
        .find(|event| event.task_id == id && event.event == L::Progress)
        .expect("progress events");
    assert_eq!(last.snapshot.as_ref().and_then(|s| s.progress.percent), Some(100.0));
    host.stop().await.expect("stopped");
}

/// A task reporting faster than `progress_event_interval`: the first update is told at once,
/// the rest fold into one event told with the progress write, carrying the last value and the
/// revision that write made.
pub(crate) async fn progress_events_are_paced_and_the_last_is_told(store: Arc<dyn TaskStore>) {
    let wrapped = Arc::new(Wrapped::new(Arc::clone(&store)));
    let flood = from_fn(|_: Value, ctx: TaskContext| async move {
        for n in 1..=500u32 {
            ctx.set_progress(ProgressUpdate::percent(f64::from(n) / 5.0))?;
        }
        Ok::<_, TaskFailure>(())
    });
    let host = TaskHost::builder_from_arc(Arc::clone(&wrapped) as Arc<dyn TaskStore>)
        // Intervals far longer than the handler runs, so the count cannot depend on timing:
        // one preview at once, then one write (the flush before the final write) tells the rest.
        .options(
            fast_options("runner-a")
                .progress_flush_interval(Duration::from_secs(3600))
                .progress_event_interval(Duration::from_secs(3600)),
        )
        .handler(HandlerRegistration::new("flood", flood))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let id = host.enqueue("flood", &json!({}), EnqueueOptions::new()).await.expect("ok").task.id;
    events.wait(&id, L::Succeeded).await;
    assert_eq!(wrapped.calls("set_progress"), 1, "500 updates, one write");
    let told: Vec<_> = events
        .lifecycle()
        .into_iter()
        .filter(|event| event.task_id == id && event.event == L::Progress)
        .collect();
    let percents: Vec<Option<f64>> = told
        .iter()
        .map(|event| event.snapshot.as_ref().and_then(|snapshot| snapshot.progress.percent))
        .collect();
    assert_eq!(
        percents,
        vec![Some(0.2), Some(100.0)],
        "the first at once, the last with its write"
    );
    let revisions: Vec<u64> = told
        .iter()
        .filter_map(|event| event.snapshot.as_ref().map(|snapshot| snapshot.revision))
        .collect();
    assert!(revisions[1] > revisions[0], "the held-back event carries the write's revision");
    host.stop().await.expect("stopped");
}

pub(crate) async fn retention_runs_on_its_interval(store: Arc<dyn TaskStore>) {
    let clock = ManualClock::default();
    let stepper = from_fn(|_: Value, ctx: TaskContext| async move {
        for n in 1..=5 {
            ctx.step(format!("step {n}"))?;
        }
        Ok::<_, TaskFailure>(())
    });
    let host = TaskHost::builder_from_arc(Arc::clone(&store))
        .options(
            fast_options("runner-a")
                .retention_policy(Some(RetentionPolicy {
                    success_ttl: Some(Duration::from_secs(3600)),
                    ..RetentionPolicy::default()
                }))
                .retention_interval(Duration::from_millis(10)),
        )
        .clock(clock.clone())
        .handler(HandlerRegistration::new("stepper", stepper))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let old = host.enqueue("stepper", &json!(1), EnqueueOptions::new()).await.expect("ok").task.id;
    events.wait(&old, L::Succeeded).await;
    // An explicit compaction with a policy of its own: trims steps, keeps the task.
    let trim = RetentionPolicy { step_limit_per_task: Some(2), ..RetentionPolicy::default() };
    let report = host.compact(Some(trim)).await.expect("compacted");
    assert_eq!((report.deleted_tasks, report.deleted_steps), (0, 3));
    let remaining = host.list_task_steps(&old, StepQuery::default()).await.expect("listed");
    assert_eq!(remaining.iter().map(|step| step.seq).collect::<Vec<_>>(), vec![4, 5]);
    // Two hours later the success is past its TTL; a fresh one is not.
    clock.advance(Duration::from_secs(7200));
    let fresh =
        host.enqueue("stepper", &json!(2), EnqueueOptions::new()).await.expect("ok").task.id;
    events.wait(&fresh, L::Succeeded).await;
    events
        .wait_host("a retention run that deleted the old task", |event| {
            event.event_type == HostEventType::RetentionCompleted
                && event.retention.is_some_and(|report| report.deleted_tasks >= 1)
        })
        .await;
    let (old_id, fresh_id) = (old.clone(), fresh.clone());
    let (old_record, fresh_record) =
        blocking(&store, move |store| (store.get(&old_id), store.get(&fresh_id))).await;
    assert!(old_record.expect("read").is_none(), "deleted with its steps");
    assert!(fresh_record.expect("read").is_some(), "still within its TTL");
    host.stop().await.expect("stopped");
}
