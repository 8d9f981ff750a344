//! Bad output from a child process, through the process executor and a real host: invalid
//! UTF-8 in plain lines, in protocol messages and in the result; NUL bytes, raw and escaped;
//! and a `result` line nested 100,000 deep, which no JSON reader takes.
//!
//! Promises: the first task succeeds with its result (bad bytes and raw NULs become U+FFFD),
//! every good line is stored as a step, in order, the step whose message holds an escaped NUL
//! (which no store keeps) is refused alone with a `warn` step saying so, and nothing stored
//! holds an invalid string. The deep result fails the attempt with a typed error: it
//! must not pass for a success with no output.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tasks_core::{EnqueueOptions, StepQuery, TaskId, TaskRecord, TaskStatus, TaskStore};
use tasks_exec_process::ProcessExecutor;
use tasks_host::{HandlerRegistration, TaskHost};

use crate::abuse_support::runtime::{runner, runtime, wait_for};
use crate::abuse_support::store::StoreUnderTest;
use crate::{Report, Violation, ensure};

/// Lines with bad bytes between good ones, then a result holding a bad byte.
const MIXED: &str = r#"printf 'first good line\n'
printf 'invalid \377\376 utf8\n'
printf '{"type":"step","message":"step with \377 byte"}\n'
printf '{"type":"progress","percent":50,"label":"label \377"}\n'
printf 'a raw NUL \000 byte\n'
printf '{"type":"step","message":"an escaped \\u0000 NUL"}\n'
printf 'last good line\n'
printf '{"type":"result","output":{"text":"result \377"}}\n'
"#;

/// A result line nested 100,000 deep.
const DEEP: &str = r#"printf '{"type":"result","output":'
yes '[' | head -n 100000 | tr -d '\n'
yes ']' | head -n 100000 | tr -d '\n'
printf '}\n'
"#;

const PATIENCE: Duration = Duration::from_secs(60);

pub(super) fn check(store: &StoreUnderTest, report: &mut Report) -> Result<(), Violation> {
    let runtime = runtime()?;
    let handle = store.open(4)?;
    let sh = |script: &str| ProcessExecutor::new("sh").arg("-c").arg(script.to_owned());
    let host = TaskHost::builder_from_arc(Arc::clone(&handle))
        .options(runner("bad-input-children", 2))
        .handler(HandlerRegistration::new("child.mixed", sh(MIXED)))
        .handler(
            HandlerRegistration::new("child.deep", sh(DEEP))
                .retry(tasks_host::RetryPolicy::attempts(1)),
        )
        .build()?;
    runtime.block_on(host.start())?;
    let enqueue =
        |kind: &str| runtime.block_on(host.enqueue(kind, &json!({}), EnqueueOptions::new()));
    let outcome = enqueue("child.mixed").and_then(|mixed| Ok((mixed, enqueue("child.deep")?)));
    let result = outcome.map_err(Violation::from).and_then(|(mixed, deep)| {
        Ok((finished(&*handle, &mixed.task.id)?, finished(&*handle, &deep.task.id)?))
    });
    runtime.block_on(host.stop())?;
    drop(host);
    let (mixed, deep) = result?;
    ensure!(
        mixed.status == TaskStatus::Succeeded,
        "bad child output: the task ended {:?}: {:?}",
        mixed.status,
        mixed.error
    );
    ensure!(
        mixed.output == Some(json!({ "text": "result \u{fffd}" })),
        "bad child output: the result was stored as {:?}",
        mixed.output
    );
    ensure!(
        mixed.progress_label.as_deref() == Some("label \u{fffd}"),
        "bad child output: the progress label was stored as {:?}",
        mixed.progress_label
    );
    let steps = handle.list_steps(&mixed.id, &StepQuery::recent(100))?;
    let messages: Vec<&str> = steps.iter().map(|step| step.message.as_str()).collect();
    let good = [
        "first good line",
        "invalid \u{fffd}\u{fffd} utf8",
        "step with \u{fffd} byte",
        "a raw NUL \u{fffd} byte",
        "last good line",
    ];
    let mut found = messages.iter();
    for line in good {
        ensure!(
            found.any(|message| *message == line),
            "bad child output: the good line {line:?} is missing or out of order in {messages:?}"
        );
    }
    let escaped_refused = steps
        .iter()
        .any(|step| step.level == tasks_core::StepLevel::Warn && step.message.contains("refused"));
    ensure!(
        escaped_refused,
        "bad child output: the step with an escaped NUL was neither refused nor noted: {messages:?}"
    );
    ensure!(
        !(deep.status == TaskStatus::Succeeded
            && deep.output.as_ref().is_none_or(|out| out.is_null())),
        "bad child output: a result line nested 100,000 deep passed for a success with no output"
    );
    report.say(
        "bad-input: a child wrote invalid UTF-8, raw and escaped NUL bytes, then a result with \
         a bad byte; another a result nested 100,000 deep",
    );
    report.figure(
        "child with bad bytes",
        format!(
            "{:?}, {} steps stored, every good line kept in order, bad bytes and a raw NUL as \
             U+FFFD, the escaped NUL refused alone and noted",
            mixed.status,
            steps.len()
        ),
    );
    report.figure(
        "child with a deep result",
        format!(
            "{:?}, code {:?}",
            deep.status,
            deep.error.as_ref().and_then(|error| error.code.clone())
        ),
    );
    Ok(())
}

fn finished(store: &dyn TaskStore, id: &TaskId) -> Result<TaskRecord, Violation> {
    wait_for(&format!("bad-input: task {id} to finish"), PATIENCE, || {
        Ok(store.get(id)?.filter(|record| record.status.is_terminal()))
    })
}
