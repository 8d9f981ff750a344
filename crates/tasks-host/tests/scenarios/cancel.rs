//! Cancellation: a queued task at once, a running one through its signal, one whose handler
//! ignores the signal once the grace runs out, and a running task superseded by a newer one.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tasks_core::{
    EnqueueDisposition, EnqueueOptions, LifecycleEventName as L, StoreErrorKind, TaskId,
    TaskStatus, TaskStore,
};
use tasks_exec_inproc::{TaskContext, TaskFailure, from_fn};
use tasks_host::{HandlerRegistration, HostErrorKind, TaskHost};

use crate::support::{Recorder, eventually, fast_options, record};

/// A handler that works until it is told to stop, unless its input says `finish`.
fn until_cancelled() -> HandlerRegistration {
    let handler = from_fn(|input: Value, ctx: TaskContext| async move {
        if input["finish"] == json!(true) {
            return Ok(json!("finished"));
        }
        ctx.step("waiting for a cancel")?;
        ctx.cancelled().await;
        ctx.check_cancelled()?;
        Ok::<_, TaskFailure>(json!("unreachable"))
    });
    HandlerRegistration::new("long", handler)
}

pub(crate) async fn cancel_queued_task(store: Arc<dyn TaskStore>) {
    let host = TaskHost::builder_from_arc(Arc::clone(&store))
        .options(fast_options("runner-a"))
        .handler(until_cancelled())
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let later = EnqueueOptions::new().delay(Duration::from_secs(3600));
    let id = host.enqueue("long", &json!({}), later).await.expect("ok").task.id;
    let cancelled = host.cancel(&id, Some("changed my mind")).await.expect("cancelled");
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    let event = events.wait(&id, L::Cancelled).await;
    assert_eq!(event.error.as_ref().map(|e| e.message.as_str()), Some("changed my mind"));
    let again = host.cancel(&id, None).await.expect_err("a finished task cannot be cancelled");
    assert_eq!(again.kind(), HostErrorKind::Store(StoreErrorKind::Refused));
    let unknown = TaskId::new("no-such-task").expect("valid id");
    let missing = host.cancel(&unknown, None).await.expect_err("unknown id");
    assert_eq!(missing.kind(), HostErrorKind::Store(StoreErrorKind::NotFound));
    assert_eq!(record(&store, &id).await.attempt, 0, "never claimed");
    host.stop().await.expect("stopped");
}

pub(crate) async fn cancel_running_task(store: Arc<dyn TaskStore>) {
    let host = TaskHost::builder_from_arc(Arc::clone(&store))
        .options(fast_options("runner-a"))
        .handler(until_cancelled())
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let id = host.enqueue("long", &json!({}), EnqueueOptions::new()).await.expect("ok").task.id;
    events.wait(&id, L::Step).await;
    let requested = host.cancel(&id, Some("user pressed stop")).await.expect("requested");
    assert_eq!(requested.status, TaskStatus::Running);
    assert!(requested.cancel_requested_at.is_some());
    let event = events.wait(&id, L::Cancelled).await;
    assert_eq!(event.error.as_ref().map(|e| e.message.as_str()), Some("user pressed stop"));
    let record = record(&store, &id).await;
    assert_eq!(record.status, TaskStatus::Cancelled);
    assert!(record.lease_token.is_none());
    host.stop().await.expect("stopped");
}

pub(crate) async fn cancel_of_ignoring_handler_ends_after_grace(store: Arc<dyn TaskStore>) {
    let stubborn = from_fn(|_: Value, ctx: TaskContext| async move {
        ctx.step("ignoring every signal")?;
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        #[allow(unreachable_code)]
        Ok::<_, TaskFailure>(())
    });
    let host = TaskHost::builder_from_arc(Arc::clone(&store))
        .options(fast_options("runner-a").cancel_grace(Duration::from_millis(50)))
        .handler(HandlerRegistration::new("stubborn", stubborn))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let id = host.enqueue("stubborn", &json!({}), EnqueueOptions::new()).await.expect("ok").task.id;
    events.wait(&id, L::Step).await;
    host.cancel(&id, Some("stop now")).await.expect("requested");
    events.wait(&id, L::Cancelled).await;
    assert_eq!(record(&store, &id).await.status, TaskStatus::Cancelled);
    eventually("the slot to be free again", || {
        let host = host.clone();
        async move { host.state().active == 0 }
    })
    .await;
    host.stop().await.expect("stopped");
}

pub(crate) async fn supersede_running_task(store: Arc<dyn TaskStore>) {
    let host = TaskHost::builder_from_arc(Arc::clone(&store))
        .options(fast_options("runner-a"))
        .handler(until_cancelled())
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let first = host
        .enqueue("long", &json!({}), EnqueueOptions::new().supersede("repo:42"))
        .await
        .expect("ok");
    assert_eq!(first.disposition, EnqueueDisposition::Created);
    events.wait(&first.task.id, L::Step).await;
    let second = host
        .enqueue("long", &json!({"finish": true}), EnqueueOptions::new().supersede("repo:42"))
        .await
        .expect("ok");
    assert_eq!(second.disposition, EnqueueDisposition::Superseded);
    assert_eq!(second.superseded_task_ids, vec![first.task.id.clone()]);
    let cancelled = events.wait(&first.task.id, L::Cancelled).await;
    let message = cancelled.error.map(|e| e.message).unwrap_or_default();
    assert!(message.contains(second.task.id.as_str()), "{message}");
    events.wait(&second.task.id, L::Succeeded).await;
    let enqueued = events
        .wait_for("the superseding enqueue", |e| {
            e.task_id == second.task.id && e.event == L::Enqueued
        })
        .await;
    assert_eq!(enqueued.disposition, Some(EnqueueDisposition::Superseded));
    host.stop().await.expect("stopped");
}
