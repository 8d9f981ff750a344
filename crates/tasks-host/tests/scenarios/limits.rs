//! Report limits: a task that floods its log is capped by the host's step limits, and the
//! steps it lost are counted in one `warn` step after the ones kept.

use std::sync::Arc;

use serde_json::{Value, json};
use tasks_core::{EnqueueOptions, LifecycleEventName as L, StepLevel, StepQuery, TaskStore};
use tasks_exec_inproc::{TaskContext, TaskFailure, from_fn};
use tasks_host::{HandlerRegistration, TaskHost};

use crate::support::{Recorder, blocking, fast_options};

pub(crate) async fn a_step_flood_is_capped_and_counted(store: Arc<dyn TaskStore>) {
    const SENT: u64 = 50;
    let flood = from_fn(|_: Value, ctx: TaskContext| async move {
        for n in 1..=SENT {
            ctx.step(format!("step {n}"))?;
        }
        Ok::<_, TaskFailure>(())
    });
    let options = fast_options("runner-a").max_steps_per_second(Some(1)).step_burst(10);
    let host = TaskHost::builder_from_arc(Arc::clone(&store))
        .options(options)
        .handler(HandlerRegistration::new("flood", flood))
        .build()
        .expect("valid");
    let events = Recorder::attach(&host);
    host.start().await.expect("started");
    let id = host.enqueue("flood", &json!({}), EnqueueOptions::new()).await.expect("ok").task.id;
    events.wait(&id, L::Succeeded).await;
    let task = id.clone();
    let steps = blocking(&store, move |store| store.list_steps(&task, &StepQuery::recent(1000)))
        .await
        .expect("steps");
    let (note, kept) = steps.split_last().expect("steps were written");
    // The burst is taken at once; the rate (one a second) may let one more in on a slow run.
    assert!(kept.len() >= 10 && kept.len() < SENT as usize, "{} steps kept", kept.len());
    let messages: Vec<&str> = kept.iter().map(|step| step.message.as_str()).collect();
    let expected: Vec<String> = (1..=kept.len()).map(|n| format!("step {n}")).collect();
    assert_eq!(messages, expected, "the first steps are kept, in order");
    assert_eq!(note.level, StepLevel::Warn);
    let dropped = note.meta.as_ref().and_then(|meta| meta.get("droppedSteps")?.as_u64());
    assert_eq!(dropped, Some(SENT - kept.len() as u64), "{}", note.message);
    host.stop().await.expect("stopped");
}
