//! Kinds no host handles. A malformed kind is refused at the host's enqueue with the store's
//! typed error; a well-formed kind that no handler is registered for is stored queued and left
//! alone: the host runs its own work next to it and never claims, changes or fails it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tasks_core::{EnqueueOptions, StoreErrorKind, TaskStatus};
use tasks_exec_inproc::{TaskContext, TaskFailure, from_fn};
use tasks_host::{HandlerRegistration, HostErrorKind, TaskHost};

use crate::abuse_support::runtime::{runner, runtime, wait_for};
use crate::abuse_support::store::StoreUnderTest;
use crate::{Report, Violation, ensure};

pub(super) fn check(store: &StoreUnderTest, report: &mut Report) -> Result<(), Violation> {
    let runtime = runtime()?;
    let handle = store.open(4)?;
    let known =
        from_fn(|_: Value, _ctx: TaskContext| async move { Ok::<_, TaskFailure>(json!(1)) });
    let host = TaskHost::builder_from_arc(Arc::clone(&handle))
        .options(runner("bad-input-unknown", 4))
        .handler(HandlerRegistration::new("known.kind", known))
        .build()?;
    runtime.block_on(host.start())?;
    let result = (|| {
        let malformed =
            runtime.block_on(host.enqueue("no such kind!", &json!({}), EnqueueOptions::new()));
        ensure!(
            matches!(&malformed, Err(error) if error.kind() == HostErrorKind::Store(StoreErrorKind::InvalidInput)),
            "a malformed kind at the host: {:?}",
            malformed.map(|outcome| outcome.task.id)
        );
        let unknown = runtime
            .block_on(host.enqueue("nobody.handles.this", &json!({}), EnqueueOptions::new()))?
            .task;
        let mut ran = Vec::new();
        for n in 0..20 {
            ran.push(
                runtime
                    .block_on(host.enqueue("known.kind", &json!(n), EnqueueOptions::new()))?
                    .task
                    .id,
            );
        }
        for id in &ran {
            wait_for("bad-input: the known tasks to run", Duration::from_secs(60), || {
                Ok(handle.get(id)?.filter(|record| record.status == TaskStatus::Succeeded))
            })?;
        }
        let still = handle.get(&unknown.id)?;
        ensure!(
            still.as_ref() == Some(&unknown),
            "a task of an unknown kind was changed while the host ran: {:?}",
            still.map(|record| (record.status, record.revision))
        );
        Ok(ran.len())
    })();
    runtime.block_on(host.stop())?;
    drop(host);
    let ran = result?;
    report.figure(
        "unknown kinds",
        format!(
            "a malformed kind refused (InvalidInput); a kind no host handles stayed queued and \
             untouched while {ran} other tasks ran"
        ),
    );
    Ok(())
}
