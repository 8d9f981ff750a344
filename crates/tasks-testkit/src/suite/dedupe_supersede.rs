//! Behaviours of dedupe and supersede at enqueue (the rules in the docs of
//! `tasks_core::enqueue` and the `enqueue` lines of `TaskStore`).

use serde_json::json;
use tasks_core::transition::{CANCELLED_CODE, superseded_reason};
use tasks_core::{
    EnqueueDisposition, EnqueueOptions, NewTask, TaskError, TaskFilter, TaskListQuery, TaskStatus,
    TaskStore,
};

use super::support::{
    T0, at_s, claim_id, enqueue_ok, fetch, lease, picture, put, running, task_with, tid,
};

fn deduped(kind: &str, id: &str, key: &str) -> NewTask {
    task_with(kind, id, EnqueueOptions::new().dedupe_key(key))
}

fn superseding(id: &str, key: &str) -> NewTask {
    task_with("scan", id, EnqueueOptions::new().supersede(key))
}

fn count(store: &dyn TaskStore) -> usize {
    store.list(&TaskListQuery::all().limit(10_000)).expect("list succeeds").len()
}

/// `enqueue`: "Dedupe: an open task of the same kind and `dedupeKey` with no cancel requested
/// is returned with disposition `reused` and `reusedTaskId`; nothing changes", whether the
/// open task is queued, claimed or running; a caller id given with the reused enqueue is
/// ignored; another kind or key is not a duplicate.
pub fn dedupe_reuses_open_task(store: &dyn TaskStore) {
    let first = put(store, deduped("work", "first", "k"), T0);
    for (step, now) in [("queued", at_s(1)), ("claimed", at_s(2)), ("running", at_s(3))] {
        match step {
            "claimed" => {
                claim_id(store, &first.id, now);
            }
            "running" => {
                store.start(&lease(&fetch(store, &first.id)), now).expect("start succeeds");
            }
            _ => {}
        }
        let before = picture(store);
        let outcome = enqueue_ok(store, deduped("work", "second", "k"), now);
        assert_eq!(outcome.disposition, EnqueueDisposition::Reused, "while {step}");
        assert_eq!(outcome.reused_task_id, Some(first.id.clone()));
        assert!(outcome.deduplicated);
        assert_eq!(outcome.task, fetch(store, &first.id), "the open task is returned as is");
        assert!(outcome.superseded_task_ids.is_empty());
        assert_eq!(picture(store), before, "a reused enqueue changes nothing ({step})");
        assert_eq!(store.get(&tid("second")).expect("get succeeds"), None);
    }
    let other_kind = enqueue_ok(store, deduped("other", "o1", "k"), at_s(4));
    assert_eq!(other_kind.disposition, EnqueueDisposition::Created, "dedupe is per kind");
    let other_key = enqueue_ok(store, deduped("work", "o2", "k2"), at_s(4));
    assert_eq!(other_key.disposition, EnqueueDisposition::Created);
    assert_eq!(count(store), 3);
}

/// `tasks_core::enqueue` dedupe rule: "Once it has finished, a new task is created" (after a
/// success, a failure and a cancel alike).
pub fn dedupe_creates_new_task_after_finish(store: &dyn TaskStore) {
    let first = put(store, deduped("work", "a1", "k"), T0);
    let claimed = claim_id(store, &first.id, T0);
    store.complete(&lease(&claimed), json!(1), at_s(1)).expect("complete succeeds");
    let second = enqueue_ok(store, deduped("work", "a2", "k"), at_s(2));
    assert_eq!(second.disposition, EnqueueDisposition::Created, "after success");
    assert_eq!(second.task.id, tid("a2"));

    let claimed = claim_id(store, &second.task.id, at_s(2));
    let error = TaskError::new("boom");
    store.fail(&lease(&claimed), error, None, at_s(3)).expect("fail succeeds");
    let third = enqueue_ok(store, deduped("work", "a3", "k"), at_s(4));
    assert_eq!(third.disposition, EnqueueDisposition::Created, "after failure");

    store.cancel(&third.task.id, None, at_s(5)).expect("cancel succeeds");
    let fourth = enqueue_ok(store, deduped("work", "a4", "k"), at_s(6));
    assert_eq!(fourth.disposition, EnqueueDisposition::Created, "after cancel");
    let again = enqueue_ok(store, deduped("work", "a5", "k"), at_s(7));
    assert_eq!(again.disposition, EnqueueDisposition::Reused, "the new task blocks in turn");
    assert_eq!(again.task.id, tid("a4"));
}

/// `tasks_core::enqueue::blocks_dedupe`: an open task whose cancel was requested does not
/// block: a new task is created.
pub fn dedupe_skips_cancel_requested_task(store: &dyn TaskStore) {
    let first = running(store, deduped("work", "r1", "k"), T0);
    let asked = store.cancel(&first.id, None, at_s(1)).expect("cancel succeeds");
    assert_eq!(asked.status, TaskStatus::Running);
    assert!(asked.cancel_requested_at.is_some());
    let outcome = enqueue_ok(store, deduped("work", "r2", "k"), at_s(2));
    assert_eq!(outcome.disposition, EnqueueDisposition::Created);
    assert_eq!(outcome.task.id, tid("r2"));
    assert_eq!(count(store), 2);
}

/// `enqueue`: "Supersede: open tasks of the same kind and `supersedeKey` are cancelled
/// (queued) ... their ids are returned in `supersededTaskIds` and the disposition is
/// `superseded`". Other kinds, other keys and finished tasks are untouched.
pub fn supersede_cancels_queued_tasks(store: &dyn TaskStore) {
    let key_only = |id: &str| task_with("scan", id, EnqueueOptions::new().supersede_key("repo"));
    let old1 = put(store, key_only("old1"), T0);
    let old2 = put(store, key_only("old2"), T0);
    let other_kind =
        put(store, task_with("lint", "lint1", EnqueueOptions::new().supersede_key("repo")), T0);
    let other_key =
        put(store, task_with("scan", "k2", EnqueueOptions::new().supersede_key("other")), T0);
    let done = put(store, key_only("done"), at_s(-10));
    store.cancel(&done.id, None, at_s(-5)).expect("cancel succeeds");
    let done = fetch(store, &done.id);

    let outcome = enqueue_ok(store, superseding("new", "repo"), at_s(1));
    assert_eq!(outcome.disposition, EnqueueDisposition::Superseded);
    let mut superseded = outcome.superseded_task_ids.clone();
    superseded.sort();
    assert_eq!(superseded, vec![old1.id.clone(), old2.id.clone()]);
    assert_eq!(outcome.task.status, TaskStatus::Queued);
    assert_eq!(outcome.task.revision, 1);
    for old in [&old1, &old2] {
        let now = fetch(store, &old.id);
        assert_eq!(now.status, TaskStatus::Cancelled);
        assert_eq!(now.finished_at, Some(at_s(1)));
        assert_eq!(now.cancel_requested_at, Some(at_s(1)));
        assert_eq!(now.revision, old.revision + 1);
        let error = now.error.expect("a cancelled task records why");
        assert_eq!(error.code.as_deref(), Some(CANCELLED_CODE));
        assert_eq!(error.message, superseded_reason(&tid("new")));
    }
    assert_eq!(fetch(store, &other_kind.id), other_kind, "another kind is untouched");
    assert_eq!(fetch(store, &other_key.id), other_key, "another key is untouched");
    assert_eq!(fetch(store, &done.id), done, "a finished task is untouched");
}

/// `enqueue`: superseded "claimed, running" tasks are "asked to cancel": they keep their
/// status, get `cancelRequestedAt`, and their worker sees it on its next heartbeat.
pub fn supersede_requests_cancel_of_active_tasks(store: &dyn TaskStore) {
    let key_only = |id: &str| task_with("scan", id, EnqueueOptions::new().supersede_key("repo"));
    let busy = running(store, key_only("busy"), T0);
    let taken = put(store, key_only("taken"), at_s(1));
    let taken = claim_id(store, &taken.id, at_s(1));

    let outcome = enqueue_ok(store, superseding("new", "repo"), at_s(2));
    assert_eq!(outcome.disposition, EnqueueDisposition::Superseded);
    let mut superseded = outcome.superseded_task_ids.clone();
    superseded.sort();
    assert_eq!(superseded, vec![busy.id.clone(), taken.id.clone()]);
    for (old, status) in [(&busy, TaskStatus::Running), (&taken, TaskStatus::Claimed)] {
        let now = fetch(store, &old.id);
        assert_eq!(now.status, status, "an active task keeps running until its worker stops");
        assert_eq!(now.cancel_requested_at, Some(at_s(2)));
        assert_eq!(now.revision, old.revision + 1);
        assert_eq!(now.lease_token, old.lease_token, "the lease stays with its worker");
    }
    let beat = store
        .heartbeat(&lease(&busy), super::support::LEASE, at_s(3))
        .expect("the worker still holds its lease");
    assert_eq!(beat.cancel_requested_at, Some(at_s(2)));
    let acknowledged =
        store.acknowledge_cancel(&lease(&busy), None, at_s(4)).expect("the worker acknowledges");
    assert_eq!(acknowledged.status, TaskStatus::Cancelled);
}

/// `enqueue`: "the disposition is `superseded` when there were any": with nothing open to
/// supersede the task is simply `created`; and dedupe is checked first, so "a reused task
/// supersedes nothing".
pub fn supersede_only_when_something_is_replaced(store: &dyn TaskStore) {
    let lone = enqueue_ok(store, superseding("lone", "nothing-here"), T0);
    assert_eq!(lone.disposition, EnqueueDisposition::Created);
    assert!(lone.superseded_task_ids.is_empty());

    let both =
        |id: &str| task_with("scan", id, EnqueueOptions::new().dedupe_key("d").supersede("repo"));
    let first = enqueue_ok(store, both("first"), at_s(1));
    assert_eq!(first.disposition, EnqueueDisposition::Created);
    let before = picture(store);
    let second = enqueue_ok(store, both("second"), at_s(2));
    assert_eq!(second.disposition, EnqueueDisposition::Reused);
    assert_eq!(second.task.id, tid("first"));
    assert!(second.superseded_task_ids.is_empty(), "a reused enqueue supersedes nothing");
    assert_eq!(picture(store), before);
    let filter = TaskFilter { statuses: vec![TaskStatus::Cancelled], ..TaskFilter::all() };
    let cancelled = store.list(&TaskListQuery::filtered(filter)).expect("list succeeds");
    assert!(cancelled.is_empty());
}
