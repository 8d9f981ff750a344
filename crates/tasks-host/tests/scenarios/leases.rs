//! Leases: a lease the store refuses stops the execution; the watchdog marks a silent task
//! stale and recovery requeues it once its lease runs out (time moved by a manual clock); and
//! `stop` drains, then releases what still runs so another host takes it at once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tasks_core::{
    ClaimRequest, Clock, EnqueueOptions, HostEventType, LifecycleEventName as L, LifecycleState,
    ManualClock, TaskStatus, TaskStore,
};
use tasks_exec_inproc::{TaskContext, TaskFailure, from_fn};
use tasks_host::{HandlerRegistration, TaskHost};
use tokio::sync::Notify;

use crate::support::{Recorder, Wrapped, blocking, eventually, fast_options, record};

pub(crate) async fn lease_loss_stops_the_execution(store: Arc<dyn TaskStore>) {
    let clock = ManualClock::default();
    let told = Arc::new(std::sync::Mutex::new(None::<String>));
    let seen = Arc::clone(&told);
    let handler = from_fn(move |_: Value, ctx: TaskContext| {
        let seen = Arc::clone(&seen);
        async move {
            ctx.step("working")?;
            ctx.cancelled().await;
            *seen.lock().expect("not poisoned") = ctx.cancel_signal().reason();
            Err::<(), _>(TaskFailure::new("stopped"))
        }
    });
    let host = TaskHost::builder_from_arc(Arc::clone(&store))
        .options(fast_options("runner-a"))
        .clock(clock.clone())
        .handler(HandlerRegistration::new("work", handler))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let id = host.enqueue("work", &json!({}), EnqueueOptions::new()).await.expect("ok").task.id;
    events.wait(&id, L::Step).await;
    // The runner stalls past its lease (30 s): its next heartbeat is refused.
    clock.advance(Duration::from_secs(31));
    let lost = events.wait(&id, L::LeaseLost).await;
    assert_eq!(lost.runner_id.as_deref(), Some("runner-a"));
    eventually("the attempt to end", || {
        let host = host.clone();
        async move { host.state().active == 0 }
    })
    .await;
    assert!(told.lock().expect("not poisoned").is_some(), "the handler was told to stop");
    // Fenced off: the host wrote nothing after losing the lease; the task still shows the
    // dead attempt until recovery takes it.
    let record = record(&store, &id).await;
    assert_eq!(record.status, TaskStatus::Running);
    assert_eq!(events.count(&id, L::Failed) + events.count(&id, L::Retried), 0);
    host.stop().await.expect("stopped");
}

pub(crate) async fn watchdog_stale_then_recovery(store: Arc<dyn TaskStore>) {
    let clock = ManualClock::default();
    let handler = from_fn(|_: Value, ctx: TaskContext| async move {
        Ok::<_, TaskFailure>(json!({ "attempt": ctx.attempt() }))
    });
    let host = TaskHost::builder_from_arc(Arc::clone(&store))
        .options(
            fast_options("runner-a")
                .watchdog(Some(Duration::from_secs(10)))
                .watchdog_scan_interval(Duration::from_millis(10))
                .stale_scan_interval(Duration::from_millis(10)),
        )
        .clock(clock.clone())
        .handler(HandlerRegistration::new("work", handler))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    let id = host.enqueue("work", &json!({}), EnqueueOptions::new()).await.expect("ok").task.id;
    // Another runner takes the task and dies without a word.
    let now = clock.now();
    let claimed = blocking(&store, move |store| {
        store.claim(&ClaimRequest::new("ghost", 1, Duration::from_secs(30)), now)
    })
    .await
    .expect("claimed");
    assert_eq!(claimed.len(), 1);
    host.start().await.expect("started");
    clock.advance(Duration::from_secs(11));
    let stale = events.wait(&id, L::Stale).await;
    assert_eq!(stale.snapshot.as_ref().map(|s| s.state), Some(LifecycleState::Stale));
    assert!(stale.snapshot.as_ref().and_then(|s| s.progress.stale_reason.as_ref()).is_some());
    clock.advance(Duration::from_secs(20));
    let lost = events.wait(&id, L::LeaseLost).await;
    assert_eq!(lost.snapshot.as_ref().map(|s| s.status), Some(TaskStatus::Queued));
    events
        .wait_host("the requeue count", |e| e.event_type == HostEventType::TaskStaleRequeued)
        .await;
    let done = events.wait(&id, L::Succeeded).await;
    assert_eq!(done.output, Some(json!({ "attempt": 2 })));
    host.stop().await.expect("stopped");
}

pub(crate) async fn stop_drains_then_releases(store: Arc<dyn TaskStore>) {
    let gate = Arc::new(Notify::new());
    let opened = Arc::clone(&gate);
    let quick = from_fn(move |_: Value, ctx: TaskContext| {
        let opened = Arc::clone(&opened);
        async move {
            ctx.step("waiting for the gate")?;
            opened.notified().await;
            Ok::<_, TaskFailure>(json!("done in time"))
        }
    });
    let stubborn = from_fn(|_: Value, ctx: TaskContext| async move {
        ctx.step("working until told")?;
        ctx.cancelled().await;
        ctx.check_cancelled()?;
        Ok::<_, TaskFailure>(json!("unreachable"))
    });
    let host = TaskHost::builder_from_arc(Arc::clone(&store))
        .options(fast_options("runner-a").stop_timeout(Duration::from_millis(300)))
        .handler(HandlerRegistration::new("quick", quick))
        .handler(HandlerRegistration::new("stubborn", stubborn))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let quick_id =
        host.enqueue("quick", &json!({}), EnqueueOptions::new()).await.expect("ok").task.id;
    let stubborn_id =
        host.enqueue("stubborn", &json!({}), EnqueueOptions::new()).await.expect("ok").task.id;
    events.wait(&quick_id, L::Step).await;
    events.wait(&stubborn_id, L::Step).await;
    let stopping = tokio::spawn({
        let host = host.clone();
        async move { host.stop().await }
    });
    eventually("the host to be stopping", || {
        let host = host.clone();
        async move { host.state().status == tasks_host::HostStatus::Stopping }
    })
    .await;
    // No new claims while stopping.
    let late = host.enqueue("quick", &json!({}), EnqueueOptions::new()).await.expect("ok").task.id;
    gate.notify_one();
    events.wait(&quick_id, L::Succeeded).await;
    stopping.await.expect("joined").expect("stopped");
    assert_eq!(host.state().status, tasks_host::HostStatus::Stopped);
    let released = record(&store, &stubborn_id).await;
    assert_eq!(released.status, TaskStatus::Queued);
    assert_eq!(released.attempt, 0, "the attempt is given back");
    assert!(released.lease_owner.is_none());
    events.wait_host("the release", |e| e.event_type == HostEventType::TaskReleased).await;
    assert_eq!(record(&store, &late).await.status, TaskStatus::Queued);

    // Another host takes the released task at once (no lease to wait for).
    let finishing = from_fn(|_: Value, ctx: TaskContext| async move {
        Ok::<_, TaskFailure>(json!({ "attempt": ctx.attempt() }))
    });
    let second = TaskHost::builder_from_arc(Arc::clone(&store))
        .options(fast_options("runner-b"))
        .handler(HandlerRegistration::new("stubborn", finishing))
        .build()
        .expect("valid");
    let second_events = Recorder::attach(&second);
    second.start().await.expect("started");
    let done = second_events.wait(&stubborn_id, L::Succeeded).await;
    assert_eq!(done.output, Some(json!({ "attempt": 1 })));
    assert_eq!(done.runner_id.as_deref(), Some("runner-b"));
    second.stop().await.expect("stopped");
}

pub(crate) async fn own_expired_attempt_is_recovered_and_run_again(store: Arc<dyn TaskStore>) {
    let clock = ManualClock::default();
    let handler = from_fn(|_: Value, ctx: TaskContext| async move {
        if ctx.attempt() == 1 {
            ctx.step("first attempt stalls")?;
            ctx.cancelled().await;
            return Err(TaskFailure::new("stopped"));
        }
        Ok::<_, TaskFailure>(json!({ "attempt": ctx.attempt() }))
    });
    let wrapped = Arc::new(Wrapped::new(Arc::clone(&store)));
    let host = TaskHost::builder_from_arc(Arc::clone(&wrapped) as Arc<dyn TaskStore>)
        .options(fast_options("runner-a").stale_scan_interval(Duration::from_millis(5)))
        .clock(clock.clone())
        .handler(HandlerRegistration::new("work", handler))
        .build()
        .expect("valid");
    // The next attempt is claimed before the recovery's answer reaches the host.
    let _ = wrapped.claim_before_recovery_returns.set(host.waker());
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let id = host.enqueue("work", &json!({}), EnqueueOptions::new()).await.expect("ok").task.id;
    events.wait(&id, L::Step).await;
    // This host's own lease runs out: recovery requeues the task and the same host claims
    // the next attempt, which must not be mistaken for the lost one.
    clock.advance(Duration::from_secs(31));
    let done = events.wait(&id, L::Succeeded).await;
    assert_eq!(done.output, Some(json!({ "attempt": 2 })));
    events.wait(&id, L::LeaseLost).await;
    host.stop().await.expect("stopped");
}
