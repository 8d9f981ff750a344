//! Attempts that end together: the host starts what one claim took in the claim's own call
//! (`claim_and_start`) and writes their ends through `finish_batch`, yet each task ends exactly as its single write
//! would (a refused output fails only its own task, with `invalid_output`), its last steps are
//! written before its end, and its lifecycle events come in order.

use std::sync::Arc;

use serde_json::{Value, json};
use tasks_core::limits::MAX_PAYLOAD_BYTES;
use tasks_core::{LifecycleEventName as L, NewTask, TaskStatus, TaskStore};
use tasks_exec_inproc::{TaskContext, TaskFailure, from_fn};
use tasks_host::{HandlerRegistration, TaskHost};

use crate::support::{Recorder, STARTED, Wrapped, fast_options, record, snapshot};

/// How each task of the scenario ends, by its input.
const OUTCOMES: [&str; 6] = ["ok", "huge", "ok", "fatal", "cancel", "ok"];

pub(crate) async fn attempts_ending_together_each_end_as_alone(store: Arc<dyn TaskStore>) {
    let barrier = Arc::new(tokio::sync::Barrier::new(OUTCOMES.len()));
    let handler = from_fn(move |input: Value, ctx: TaskContext| {
        let barrier = Arc::clone(&barrier);
        async move {
            // Every attempt is running before any ends, so they all end at once.
            barrier.wait().await;
            ctx.step("about to end")?;
            match input["outcome"].as_str() {
                Some("huge") => Ok(json!("x".repeat(MAX_PAYLOAD_BYTES + 1))),
                Some("fatal") => Err(TaskFailure::fatal("no way").with_code("fatal")),
                Some("cancel") => Err(TaskFailure::cancelled("changed my mind")),
                _ => Ok(json!({ "n": input["n"] })),
            }
        }
    });
    let wrapped = Arc::new(Wrapped::new(Arc::clone(&store)));
    let host = TaskHost::builder_from_arc(Arc::clone(&wrapped) as Arc<dyn TaskStore>)
        .options(fast_options("runner-a").concurrency(OUTCOMES.len() as u32))
        .handler(HandlerRegistration::new("together", handler))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    let tasks = OUTCOMES
        .iter()
        .enumerate()
        .map(|(n, outcome)| NewTask::new("together", json!({ "n": n, "outcome": outcome })))
        .collect();
    // Queued before the host starts, so its first claim takes them all.
    let queued = host.enqueue_batch(tasks).await.expect("enqueued");
    host.start().await.expect("started");
    for (outcome, task) in OUTCOMES.iter().zip(&queued) {
        let id = &task.task.id;
        let (end, status) = match *outcome {
            "ok" => (L::Succeeded, TaskStatus::Succeeded),
            "cancel" => (L::Cancelled, TaskStatus::Cancelled),
            _ => (L::Failed, TaskStatus::Failed),
        };
        events.wait(id, end).await;
        assert_eq!(
            events.names(id),
            vec![L::Enqueued, L::Claimed, L::Started, L::Step, end],
            "task {outcome}: its step is written, and told, before its end"
        );
        let record = record(&store, id).await;
        assert_eq!(record.status, status, "task {outcome}");
        assert_eq!(record.attempt, 1, "task {outcome} was not retried");
        let code = record.error.as_ref().and_then(|error| error.code.clone());
        match *outcome {
            "ok" => assert_eq!(record.output, Some(json!({ "n": task.task.input["n"] }))),
            "huge" => assert_eq!(code.as_deref(), Some("invalid_output")),
            "fatal" => assert_eq!(code.as_deref(), Some("fatal")),
            _ => assert!(record.output.is_none()),
        }
        assert_eq!(snapshot(&store, id, 10).await.steps.map(|steps| steps.len()), Some(1));
    }
    host.stop().await.expect("stopped");
    assert_eq!(wrapped.calls(STARTED), 1, "one claim took and started them all");
    assert_eq!(wrapped.calls("start_batch") + wrapped.calls("start"), 0, "no separate start");
    let single_ends =
        wrapped.calls("complete") + wrapped.calls("fail") + wrapped.calls("acknowledge_cancel");
    assert_eq!(single_ends, 0, "every end goes through the burst writer");
    assert!(wrapped.calls("finish_batch") >= 2, "the refused output is followed by a failure");
}
