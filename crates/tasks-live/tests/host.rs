//! The hub over a running `TaskHost`: in-process lifecycle events (with the store's change
//! feed for what the host tells no event of), and over the host alone.

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tasks_core::{
    EnqueueOptions, LifecycleEventName, LifecycleState, NewStep, ProgressUpdate, SubscriptionQuery,
    TaskId, TaskLiveMessage, TaskStore,
};
use tasks_exec_inproc::{TaskContext, TaskFailure, from_fn};
use tasks_host::{HandlerRegistration, RunnerOptions, TaskHost};
use tasks_live::{LiveSource, TaskLiveHub};

use support::{Recorder, assert_converged, runtime};

fn host(store: Arc<dyn TaskStore>) -> TaskHost {
    let handler = from_fn(|input: Value, ctx: TaskContext| async move {
        let units = input["units"].as_u64().unwrap_or(3);
        for n in 1..=units {
            ctx.set_progress(ProgressUpdate::percent((n * 100 / units) as f64))?;
            ctx.append_step(NewStep::info(format!("unit {n}")))?;
        }
        Ok::<_, TaskFailure>(json!({ "units": units }))
    });
    TaskHost::builder_from_arc(store)
        .options(RunnerOptions::default().runner_id("live-host"))
        .handler(HandlerRegistration::new("units", handler))
        .build()
        .expect("a host")
}

/// Where an event of a task that runs once and succeeds falls in its life: enqueued, then
/// claimed, then running (started, progress and steps, in any order), then succeeded.
fn lifecycle_rank(name: LifecycleEventName) -> u8 {
    use LifecycleEventName as L;
    match name {
        L::Enqueued => 0,
        L::Claimed => 1,
        L::Started | L::Progress | L::Step => 2,
        _ => 3,
    }
}

fn succeeded(count: usize) -> impl Fn(&tasks_live::TrackerState) -> bool {
    move |state| state.aggregate.by_state.succeeded == count as u64
}

#[test]
fn a_hub_over_a_host_and_its_feed_converges_and_names_events() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    runtime().block_on(async {
        let host = host(Arc::clone(&store));
        let source = LiveSource::host(host.clone()).with_change_feed(Arc::clone(&store));
        let hub = TaskLiveHub::new(source).expect("hub");
        let recorder = Recorder::new();
        let query = SubscriptionQuery { recent_steps: Some(100), ..SubscriptionQuery::default() };
        let _sub = hub.subscribe(query.clone(), recorder.listener()).await.expect("subscribe");
        host.start().await.expect("started");
        for units in [3u64, 5, 8] {
            host.enqueue("units", &json!({ "units": units }), EnqueueOptions::new())
                .await
                .expect("enqueued");
        }
        recorder.wait_until("three successes", succeeded(3)).await;
        host.stop().await.expect("stopped");
        hub.catch_up().await.expect("caught up");
        let fresh = {
            let (store, query) = (Arc::clone(&store), query.clone());
            tokio::task::spawn_blocking(move || support::fresh(&*store, &query))
                .await
                .expect("read")
        };
        assert_converged(&recorder.state(), &fresh, "host + feed");
        assert_eq!(recorder.state().steps.values().map(Vec::len).sum::<usize>(), 16);
        // Both paths tell the hub about each task, and it tells each revision once, whichever
        // path brings it first: when the feed reads a task before the host's event for an
        // earlier revision is dispatched, that event is older and dropped, and the feed names
        // the state the task has reached instead. So which transitions are heard depends on
        // timing; what does not is that each task is told in lifecycle order, every step once,
        // and its success once.
        let mut heard: HashMap<TaskId, Vec<LifecycleEventName>> = HashMap::new();
        for message in recorder.messages() {
            if let TaskLiveMessage::Event { event, .. } = message {
                heard.entry(event.task_id.clone()).or_default().push(event.event);
            }
        }
        assert_eq!(heard.len(), 3, "every task was told");
        for (task, names) in &heard {
            let ranks: Vec<u8> = names.iter().map(|name| lifecycle_rank(*name)).collect();
            assert!(ranks.is_sorted(), "{task:?} told out of lifecycle order: {names:?}");
            let successes = names.iter().filter(|name| **name == LifecycleEventName::Succeeded);
            assert_eq!(successes.count(), 1, "{task:?} told its success once: {names:?}");
        }
        let steps =
            heard.values().flatten().filter(|name| **name == LifecycleEventName::Step).count();
        assert_eq!(steps, 16, "each step told once, whichever path brought it");
    });
}

#[test]
fn a_hub_over_a_host_alone_hears_its_tasks() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    runtime().block_on(async {
        let host = host(Arc::clone(&store));
        let hub = TaskLiveHub::new(host.clone()).expect("hub");
        assert!(!hub.has_change_feed());
        let recorder = Recorder::new();
        let query = SubscriptionQuery { recent_steps: Some(100), ..SubscriptionQuery::default() };
        let _sub = hub.subscribe(query.clone(), recorder.listener()).await.expect("subscribe");
        let bootstrap = hub.bootstrap(query.clone()).await.expect("bootstrap");
        assert!(bootstrap.snapshots.is_empty());
        host.start().await.expect("started");
        host.enqueue("units", &json!({ "units": 4 }), EnqueueOptions::new()).await.expect("ok");
        recorder.wait_until("a success", succeeded(1)).await;
        host.stop().await.expect("stopped");
        let state = recorder.state();
        assert_eq!(state.snapshots[0].state, LifecycleState::Succeeded);
        assert_eq!(state.snapshots[0].progress.percent, Some(100.0));
        let fresh = {
            let (store, query) = (Arc::clone(&store), query.clone());
            tokio::task::spawn_blocking(move || support::fresh(&*store, &query))
                .await
                .expect("read")
        };
        assert_converged(&state, &fresh, "host alone");
    });
}

/// A handler reports progress, then waits for the test before it finishes. The report is told
/// at once, as a preview carrying the revision of the last write (the start's, which the hub
/// already told): it is newer all the same, and the only way a host-only hub hears progress
/// before the final write (the coalesced progress write tells no event).
#[test]
fn a_hub_over_a_host_alone_hears_the_last_progress_preview_before_the_final_write() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    runtime().block_on(async {
        let release = Arc::new(tokio::sync::Notify::new());
        let gate = Arc::clone(&release);
        let handler = from_fn(move |_: Value, ctx: TaskContext| {
            let gate = Arc::clone(&gate);
            async move {
                ctx.set_progress(ProgressUpdate::percent(30.0).label("working"))?;
                gate.notified().await;
                Ok::<_, TaskFailure>(json!({}))
            }
        });
        let host = TaskHost::builder_from_arc(Arc::clone(&store))
            .options(RunnerOptions::default().runner_id("live-host"))
            .handler(HandlerRegistration::new("gated", handler))
            .build()
            .expect("a host");
        let hub = TaskLiveHub::new(host.clone()).expect("hub");
        let recorder = Recorder::new();
        let _sub = hub
            .subscribe(SubscriptionQuery::default(), recorder.listener())
            .await
            .expect("subscribe");
        host.start().await.expect("started");
        host.enqueue("gated", &json!({}), EnqueueOptions::new()).await.expect("enqueued");
        recorder
            .wait_until("the last preview", |state| {
                state.snapshots.first().is_some_and(|s| s.progress.percent == Some(30.0))
            })
            .await;
        release.notify_one();
        recorder.wait_until("a success", succeeded(1)).await;
        host.stop().await.expect("stopped");
        let events: Vec<(LifecycleEventName, Option<f64>)> = recorder
            .messages()
            .iter()
            .filter_map(|message| match message {
                TaskLiveMessage::Event { event, .. } => Some((
                    event.event,
                    event.snapshot.as_ref().and_then(|snapshot| snapshot.progress.percent),
                )),
                TaskLiveMessage::Bootstrap(_) => None,
            })
            .collect();
        let preview = events
            .iter()
            .position(|event| *event == (LifecycleEventName::Progress, Some(30.0)))
            .expect("the 30 % preview was told");
        let success = events
            .iter()
            .position(|(name, _)| *name == LifecycleEventName::Succeeded)
            .expect("the success was told");
        assert!(preview < success, "the preview came before the final write: {events:?}");
    });
}
