//! Failed attempts: retried with backoff until success, exhausted, not retried when fatal, a
//! panic, input of the wrong shape, a timeout, and a task of a kind the host cannot run.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tasks_core::{
    Backoff, EnqueueOptions, LifecycleEventName as L, LifecycleState, TaskStatus, TaskStore,
};
use tasks_exec_inproc::{INVALID_INPUT_CODE, PANIC_CODE, TaskContext, TaskFailure, from_fn};
use tasks_host::{HandlerRegistration, RetryPolicy, TIMEOUT_CODE, TaskHost, UNKNOWN_KIND_CODE};

use crate::support::{Recorder, Wrapped, fast_options, record};

fn quick_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy::attempts(attempts).backoff(Backoff::constant(Duration::from_millis(5)))
}

pub(crate) async fn retries_then_success(store: Arc<dyn TaskStore>) {
    let flaky = from_fn(|_: Value, ctx: TaskContext| async move {
        if ctx.attempt() < 3 {
            return Err(TaskFailure::new(format!("attempt {} failed", ctx.attempt())));
        }
        Ok(json!({ "attempt": ctx.attempt() }))
    });
    let host = TaskHost::builder_from_arc(Arc::clone(&store))
        .options(fast_options("runner-a"))
        .handler(HandlerRegistration::new("flaky", flaky).retry(quick_retries(3)))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let queued = host.enqueue("flaky", &json!({}), EnqueueOptions::new()).await.expect("enqueued");
    let id = queued.task.id;
    assert_eq!(queued.task.max_attempts, 3, "the kind's retry policy sets the attempts");
    let done = events.wait(&id, L::Succeeded).await;
    assert_eq!(done.output, Some(json!({ "attempt": 3 })));
    assert_eq!(events.count(&id, L::Retried), 2);
    let retried = events.wait(&id, L::Retried).await;
    assert_eq!(retried.snapshot.as_ref().map(|s| s.state), Some(LifecycleState::Retrying));
    assert!(retried.error.as_ref().is_some_and(|error| error.message == "attempt 1 failed"));
    let record = record(&store, &id).await;
    assert_eq!((record.status, record.attempt), (TaskStatus::Succeeded, 3));
    assert!(record.error.is_none());
    host.stop().await.expect("stopped");
}

pub(crate) async fn retries_exhausted(store: Arc<dyn TaskStore>) {
    let broken = from_fn(|_: Value, _ctx: TaskContext| async move {
        Err::<(), _>(TaskFailure::new("still broken").with_code("broken"))
    });
    let host = TaskHost::builder_from_arc(Arc::clone(&store))
        .options(fast_options("runner-a"))
        .handler(HandlerRegistration::new("broken", broken).retry(quick_retries(5)))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    // The enqueue's own attempts win over the kind's policy.
    let queued = host
        .enqueue("broken", &json!({}), EnqueueOptions::new().max_attempts(2))
        .await
        .expect("enqueued");
    let id = queued.task.id;
    let failed = events.wait(&id, L::Failed).await;
    assert_eq!(failed.error.as_ref().and_then(|e| e.code.as_deref()), Some("broken"));
    assert_eq!(events.count(&id, L::Retried), 1);
    let record = record(&store, &id).await;
    assert_eq!((record.status, record.attempt), (TaskStatus::Failed, 2));
    assert!(record.finished_at.is_some());
    host.stop().await.expect("stopped");
}

pub(crate) async fn fatal_failure_is_not_retried(store: Arc<dyn TaskStore>) {
    let refusing = from_fn(|_: Value, _ctx: TaskContext| async move {
        Err::<(), _>(TaskFailure::fatal("permission denied").with_code("forbidden"))
    });
    let host = TaskHost::builder_from_arc(Arc::clone(&store))
        .options(fast_options("runner-a"))
        .handler(HandlerRegistration::new("refusing", refusing).retry(quick_retries(5)))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let id = host
        .enqueue("refusing", &json!({}), EnqueueOptions::new())
        .await
        .expect("enqueued")
        .task
        .id;
    events.wait(&id, L::Failed).await;
    assert_eq!(events.count(&id, L::Retried), 0);
    let record = record(&store, &id).await;
    assert_eq!((record.status, record.attempt), (TaskStatus::Failed, 1));
    host.stop().await.expect("stopped");
}

pub(crate) async fn panic_is_a_failed_attempt(store: Arc<dyn TaskStore>) {
    let panicking = from_fn(|input: Value, _ctx: TaskContext| async move {
        if input["panic"] == json!(true) {
            panic!("the handler blew up");
        }
        Ok::<_, TaskFailure>(input)
    });
    let host = TaskHost::builder_from_arc(Arc::clone(&store))
        .options(fast_options("runner-a"))
        .handler(HandlerRegistration::new("panicky", panicking).retry(quick_retries(2)))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let bad =
        host.enqueue("panicky", &json!({"panic": true}), EnqueueOptions::new()).await.expect("ok");
    let failed = events.wait(&bad.task.id, L::Failed).await;
    let error = failed.error.expect("an error");
    assert_eq!(error.code.as_deref(), Some(PANIC_CODE));
    assert!(error.message.contains("the handler blew up"));
    events.wait(&bad.task.id, L::Retried).await;
    assert_eq!(events.count(&bad.task.id, L::Retried), 1, "a panic is a retryable failure");
    // The host lives on.
    let good =
        host.enqueue("panicky", &json!({"panic": false}), EnqueueOptions::new()).await.expect("ok");
    events.wait(&good.task.id, L::Succeeded).await;
    host.stop().await.expect("stopped");
}

pub(crate) async fn bad_input_fails_at_once_naming_the_field(store: Arc<dyn TaskStore>) {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Input {
        #[allow(dead_code)]
        report_id: u64,
    }
    let typed = from_fn(|_: Input, _ctx: TaskContext| async move { Ok::<_, TaskFailure>(()) });
    let host = TaskHost::builder_from_arc(Arc::clone(&store))
        .options(fast_options("runner-a"))
        .handler(HandlerRegistration::new("typed", typed).retry(quick_retries(3)))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let bad = host
        .enqueue("typed", &json!({"reportId": "not a number"}), EnqueueOptions::new())
        .await
        .expect("enqueued");
    let good =
        host.enqueue("typed", &json!({"reportId": 7}), EnqueueOptions::new()).await.expect("ok");
    let failed = events.wait(&bad.task.id, L::Failed).await;
    let error = failed.error.expect("an error");
    assert_eq!(error.code.as_deref(), Some(INVALID_INPUT_CODE));
    assert!(error.message.contains("reportId"), "{}", error.message);
    assert_eq!(record(&store, &bad.task.id).await.attempt, 1, "never retried");
    events.wait(&good.task.id, L::Succeeded).await;
    host.stop().await.expect("stopped");
}

pub(crate) async fn timeout_fails_with_code_timeout(store: Arc<dyn TaskStore>) {
    let slow = from_fn(|_: Value, ctx: TaskContext| async move {
        // Cooperative: it stops when told (the timeout tells it).
        ctx.cancelled().await;
        ctx.check_cancelled()?;
        Ok::<_, TaskFailure>(())
    });
    let host = TaskHost::builder_from_arc(Arc::clone(&store))
        .options(fast_options("runner-a"))
        .handler(
            HandlerRegistration::new("slow", slow)
                .timeout(Duration::from_millis(30))
                .retry(quick_retries(2)),
        )
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let id = host.enqueue("slow", &json!({}), EnqueueOptions::new()).await.expect("ok").task.id;
    let failed = events.wait(&id, L::Failed).await;
    assert_eq!(failed.error.as_ref().and_then(|e| e.code.as_deref()), Some(TIMEOUT_CODE));
    let retried = events.wait(&id, L::Retried).await;
    assert_eq!(retried.error.as_ref().and_then(|e| e.code.as_deref()), Some(TIMEOUT_CODE));
    assert_eq!(record(&store, &id).await.attempt, 2);
    host.stop().await.expect("stopped");
}

pub(crate) async fn unknown_kind_is_failed(store: Arc<dyn TaskStore>) {
    // A store that hands out every kind, as a host that just lost a registration would see.
    let mut wrapped = Wrapped::new(Arc::clone(&store));
    wrapped.claim_any_kind = true;
    let echo =
        from_fn(|input: Value, _ctx: TaskContext| async move { Ok::<_, TaskFailure>(input) });
    let host = TaskHost::builder(wrapped)
        .options(fast_options("runner-a"))
        .handler(HandlerRegistration::new("known", echo))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    let id = host.enqueue("mystery", &json!({}), EnqueueOptions::new()).await.expect("ok").task.id;
    host.start().await.expect("started");
    let failed = events.wait(&id, L::Failed).await;
    assert_eq!(failed.error.as_ref().and_then(|e| e.code.as_deref()), Some(UNKNOWN_KIND_CODE));
    let record = record(&store, &id).await;
    assert_eq!((record.status, record.attempt), (TaskStatus::Failed, 1), "not retried");
    host.stop().await.expect("stopped");
}
