//! Behaviours of `compact` (the rules in the docs of `tasks_core::retention`): TTL per
//! outcome, open tasks never deleted, the step limit per task, keep-latest per kind, and the
//! report's counts.

use std::time::Duration;

use tasks_core::{
    EnqueueOptions, NewStep, RetentionPolicy, RetentionReport, StepQuery, StoreErrorKind,
    TaskError, TaskStatus, TaskStore, Timestamp,
};

use super::support::{
    End, T0, assert_kind, at, at_s, fetch, finished, lease, picture, put, running, seqs, steps,
    task_id, task_with, tid,
};

const HOUR: Duration = Duration::from_secs(3600);

fn compact(store: &dyn TaskStore, policy: &RetentionPolicy, now: Timestamp) -> RetentionReport {
    store.compact(policy, now).expect("compact succeeds")
}

fn report(deleted_tasks: u64, deleted_steps: u64, compacted_tasks: u64) -> RetentionReport {
    RetentionReport { deleted_tasks, deleted_steps, compacted_tasks }
}

fn exists(store: &dyn TaskStore, id: &str) -> bool {
    store.get(&tid(id)).expect("get succeeds").is_some()
}

/// Appends `count` steps to a running task.
fn add_steps(store: &dyn TaskStore, record: &tasks_core::TaskRecord, count: u64, now: Timestamp) {
    let batch: Vec<NewStep> = (0..count).map(|n| NewStep::info(format!("step {n}"))).collect();
    store.append_steps(&lease(record), &batch, now).expect("append succeeds");
}

/// `tasks_core::retention`: "a finished task is deleted when its outcome's TTL has passed
/// since `finishedAt`", each outcome with its own TTL; "a deleted task's steps go with it";
/// the report counts the tasks; an empty policy deletes nothing.
pub fn compact_deletes_finished_tasks_past_ttl(store: &dyn TaskStore) {
    let old = running(store, task_id("work", "s-old"), T0);
    add_steps(store, &old, 2, T0);
    store.complete(&lease(&old), serde_json::json!(1), T0).expect("complete succeeds");
    finished(store, task_id("work", "f-old"), End::Failed, at_s(1));
    finished(store, task_id("work", "c-old"), End::Cancelled, at_s(2));
    finished(store, task_id("work", "s-new"), End::Succeeded, at_s(1800));
    let before = picture(store);
    assert_eq!(compact(store, &RetentionPolicy::default(), at_s(86_400)), report(0, 0, 0));
    assert_eq!(picture(store), before, "an empty policy deletes nothing");

    let now = at_s(3602);
    let success = RetentionPolicy { success_ttl: Some(HOUR), ..RetentionPolicy::default() };
    assert_eq!(compact(store, &success, now), report(1, 0, 0));
    assert!(!exists(store, "s-old"));
    assert_kind(store.list_steps(&tid("s-old"), &StepQuery::default()), StoreErrorKind::NotFound);
    assert!(exists(store, "s-new") && exists(store, "f-old") && exists(store, "c-old"));

    let failed = RetentionPolicy { failed_ttl: Some(HOUR), ..RetentionPolicy::default() };
    assert_eq!(compact(store, &failed, now), report(1, 0, 0));
    assert!(!exists(store, "f-old") && exists(store, "c-old"));

    let cancelled = RetentionPolicy { cancelled_ttl: Some(HOUR), ..RetentionPolicy::default() };
    assert_eq!(compact(store, &cancelled, at(3_601_999)), report(0, 0, 0), "not a ms early");
    assert_eq!(compact(store, &cancelled, now), report(1, 0, 0), "deleted at the TTL exactly");
    assert!(!exists(store, "c-old"));
    assert!(exists(store, "s-new"));
    assert_eq!(compact(store, &success, now), report(0, 0, 0), "nothing left to delete");
}

/// `tasks_core::retention`: "open tasks are never deleted", however old, under any policy.
pub fn compact_never_deletes_open_tasks(store: &dyn TaskStore) {
    let ancient = at_s(-864_000);
    let busy = running(store, task_id("work", "retrying"), ancient);
    store.fail(&lease(&busy), TaskError::new("x"), Some(at_s(1)), ancient).expect("fail");
    let active = running(store, task_id("work", "running"), ancient);
    add_steps(store, &active, 3, ancient);
    let options = EnqueueOptions::new().channel("scope:old");
    put(store, task_with("work", "queued", options), ancient);
    let before = picture(store);
    let everything = RetentionPolicy {
        success_ttl: Some(Duration::ZERO),
        failed_ttl: Some(Duration::ZERO),
        cancelled_ttl: Some(Duration::ZERO),
        step_limit_per_task: None,
        keep_latest_successes_per_kind: Some(0),
        keep_latest_failures_per_kind: Some(0),
    };
    assert_eq!(compact(store, &everything, at_s(864_000)), report(0, 0, 0));
    assert_eq!(picture(store), before, "open tasks are untouched");
    assert_eq!(fetch(store, &tid("retrying")).status, TaskStatus::Queued);
    assert_eq!(fetch(store, &tid("running")).status, TaskStatus::Running);
}

/// `tasks_core::retention`: "with `stepLimitPerTask`, each remaining task keeps only its N
/// most recent steps (`seq` numbers are never reused...)", open and finished tasks alike; the
/// report counts the steps deleted and, as `compactedTasks`, the tasks that lost some.
pub fn compact_trims_steps_keeping_newest(store: &dyn TaskStore) {
    let done = running(store, task_id("work", "done"), T0);
    add_steps(store, &done, 5, T0);
    store.complete(&lease(&done), serde_json::json!(1), T0).expect("complete succeeds");
    let busy = running(store, task_id("work", "busy"), at_s(1));
    add_steps(store, &busy, 10, at_s(1));
    let few = running(store, task_id("work", "few"), at_s(2));
    add_steps(store, &few, 2, at_s(2));
    let policy = RetentionPolicy { step_limit_per_task: Some(3), ..RetentionPolicy::default() };
    assert_eq!(compact(store, &policy, at_s(3)), report(0, 2 + 7, 2));
    assert_eq!(seqs(&steps(store, &done.id)), [3, 4, 5]);
    assert_eq!(seqs(&steps(store, &busy.id)), [8, 9, 10]);
    assert_eq!(seqs(&steps(store, &few.id)), [1, 2]);
    assert_eq!(fetch(store, &busy.id).last_step_seq, 10);
    add_steps(store, &busy, 1, at_s(4));
    assert_eq!(seqs(&steps(store, &busy.id)), [8, 9, 10, 11], "seq numbers are never reused");
    let after = store.list_steps(&busy.id, &StepQuery::after(2, 100)).expect("replay");
    assert_eq!(seqs(&after), [8, 9, 10, 11], "an old cursor replays what is left");
    assert_eq!(compact(store, &policy, at_s(5)), report(0, 1, 1));
    assert_eq!(compact(store, &policy, at_s(6)), report(0, 0, 0));
}

/// `tasks_core::retention`: "with `keepLatestSuccessesPerKind` (or `...Failures...`), only
/// the N most recently finished succeeded (or failed) tasks of each kind are kept, whatever
/// their age"; ties by `finishedAt` are ranked by id, highest first; cancelled tasks are not
/// counted.
pub fn compact_keeps_latest_per_kind(store: &dyn TaskStore) {
    for (n, id) in ["a1", "a2", "a3", "a4"].iter().enumerate() {
        finished(store, task_id("a", id), End::Succeeded, at_s(1 + n as i64));
    }
    finished(store, task_id("a", "af1"), End::Failed, at_s(5));
    finished(store, task_id("a", "af2"), End::Failed, at_s(6));
    finished(store, task_id("a", "ac1"), End::Cancelled, at_s(7));
    finished(store, task_id("b", "b1"), End::Succeeded, at_s(8));
    finished(store, task_id("b", "b2"), End::Succeeded, at_s(9));
    finished(store, task_id("b", "b-tie1"), End::Succeeded, at_s(10));
    finished(store, task_id("b", "b-tie2"), End::Succeeded, at_s(10));
    let successes =
        RetentionPolicy { keep_latest_successes_per_kind: Some(1), ..RetentionPolicy::default() };
    assert_eq!(compact(store, &successes, at_s(11)), report(6, 0, 0));
    let left = |ids: &[&str]| ids.iter().filter(|id| exists(store, id)).count();
    assert_eq!(left(&["a1", "a2", "a3", "b1", "b2", "b-tie1"]), 0);
    assert_eq!(left(&["a4", "b-tie2", "af1", "af2", "ac1"]), 5);
    let failures =
        RetentionPolicy { keep_latest_failures_per_kind: Some(1), ..RetentionPolicy::default() };
    assert_eq!(compact(store, &failures, at_s(12)), report(1, 0, 0));
    assert!(!exists(store, "af1") && exists(store, "af2") && exists(store, "ac1"));
    let both = RetentionPolicy {
        keep_latest_successes_per_kind: Some(1),
        keep_latest_failures_per_kind: Some(1),
        ..RetentionPolicy::default()
    };
    assert_eq!(compact(store, &both, at_s(13)), report(0, 0, 0));
}
