//! Behaviours of lease fencing: every worker-side write (`start`, `heartbeat`,
//! `set_progress`, `append_steps`, `complete`, `fail`, `acknowledge_cancel`, `release`) with a
//! wrong token, an expired lease, the lease of an earlier claim, or on a finished task gives
//! `LeaseLost` and changes nothing (the `TaskStore` trait docs and `transition::check_lease`).

use serde_json::json;
use tasks_core::{
    Lease, NewStep, ProgressUpdate, StoreError, StoreErrorKind, TaskError, TaskStatus, TaskStore,
    Timestamp,
};

use super::support::{
    LEASE, T0, assert_kind, at, at_s, claim_id, fetch, forged_lease, lease, picture, put, request,
    running, task_id,
};

/// Every worker-side write, each applied once with `lease` at `now`, by name.
fn worker_writes(
    store: &dyn TaskStore,
    lease: &Lease,
    now: Timestamp,
) -> Vec<(&'static str, Result<(), StoreError>)> {
    let steps = [NewStep::info("late step")];
    vec![
        ("start", store.start(lease, now).map(drop)),
        ("heartbeat", store.heartbeat(lease, LEASE, now).map(drop)),
        ("set_progress", store.set_progress(lease, &ProgressUpdate::percent(50.0), now).map(drop)),
        ("append_steps", store.append_steps(lease, &steps, now).map(drop)),
        ("complete", store.complete(lease, json!("late"), now).map(drop)),
        ("fail", store.fail(lease, TaskError::new("late"), Some(now), now).map(drop)),
        ("acknowledge_cancel", store.acknowledge_cancel(lease, None, now).map(drop)),
        ("release", store.release(lease, now).map(drop)),
    ]
}

/// Applies every worker write with `lease` at `now` and checks each gives `LeaseLost` and the
/// store (records, revisions, steps, aggregate) is exactly as before.
#[track_caller]
fn assert_all_fenced(store: &dyn TaskStore, lease: &Lease, now: Timestamp, case: &str) {
    let before = picture(store);
    for (write, result) in worker_writes(store, lease, now) {
        match result {
            Ok(()) => panic!("{write} with {case} was accepted"),
            Err(err) => assert_eq!(err.kind(), StoreErrorKind::LeaseLost, "{write} with {case}"),
        }
    }
    assert_eq!(picture(store), before, "a fenced write ({case}) changed the store");
}

/// Trait docs: "a stale token ... gives `StoreError::LeaseLost` and changes nothing", for a
/// claimed and a running task.
pub fn worker_writes_refuse_wrong_token(store: &dyn TaskStore) {
    let queued = put(store, task_id("work", "claimed"), T0);
    let claimed = claim_id(store, &queued.id, T0);
    assert_all_fenced(store, &forged_lease(&claimed), at_s(1), "a forged token on a claimed task");
    let busy = running(store, task_id("work", "running"), at_s(2));
    assert_all_fenced(store, &forged_lease(&busy), at_s(3), "a forged token on a running task");
    let swapped = Lease { task_id: busy.id.clone(), token: lease(&claimed).token };
    assert_all_fenced(store, &swapped, at_s(3), "another task's token");
    assert_eq!(fetch(store, &busy.id).status, TaskStatus::Running);
    store.heartbeat(&lease(&busy), LEASE, at_s(4)).expect("the true lease still works");
}

/// Trait docs: "an expired lease ... gives `StoreError::LeaseLost` and changes nothing", from
/// the very millisecond the lease runs out; `heartbeat`: "an expired lease cannot be renewed".
pub fn worker_writes_refuse_expired_lease(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "t1"), T0);
    let expires = busy.lease_expires_at.expect("a running task has a lease");
    assert_eq!(expires, T0.saturating_add(LEASE));
    let just_before = Timestamp::from_millis(expires.as_millis() - 1);
    store.heartbeat(&lease(&busy), LEASE, just_before).expect("still live a millisecond before");
    let renewed = fetch(store, &busy.id).lease_expires_at.expect("renewed lease");
    assert_all_fenced(store, &lease(&busy), renewed, "a lease at its expiry instant");
    assert_all_fenced(store, &lease(&busy), at_s(3600), "a long expired lease");
}

/// Trait docs: after the task was requeued (lease expired and recovered, or released) and
/// claimed again, the old worker's token gives `LeaseLost` for every write, while the new
/// holder writes freely.
pub fn worker_writes_refuse_lease_of_earlier_claim(store: &dyn TaskStore) {
    let first = running(store, task_id("work", "t1"), T0);
    let expired_at = at_s(30);
    let recovered = store.recover_expired(10, expired_at).expect("recover succeeds");
    assert_eq!(recovered.len(), 1);
    let second = claim_id(store, &first.id, expired_at);
    assert_eq!(second.attempt, 2);
    assert_all_fenced(store, &lease(&first), at_s(31), "the token of a recovered claim");
    store.heartbeat(&lease(&second), LEASE, at_s(31)).expect("the new holder heartbeats");
    store.release(&lease(&second), at_s(32)).expect("the new holder releases");
    assert_all_fenced(store, &lease(&second), at_s(33), "the token of a released claim");
    let third = claim_id(store, &first.id, at_s(33));
    assert_all_fenced(store, &lease(&second), at_s(34), "a released token after a new claim");
    store.complete(&lease(&third), json!(3), at_s(35)).expect("the newest holder completes");
}

/// Trait docs: "a task that is no longer claimed or running gives `StoreError::LeaseLost`":
/// the worker that finished the task cannot write to it again, nor can a claim whose task was
/// cancelled while queued.
pub fn worker_writes_refuse_finished_task(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "done"), T0);
    store.complete(&lease(&busy), json!("first"), at_s(1)).expect("complete succeeds");
    assert_all_fenced(store, &lease(&busy), at_s(2), "the lease of a succeeded task");
    let failing = running(store, task_id("work", "failed"), at_s(3));
    let error = TaskError::new("boom");
    store.fail(&lease(&failing), error, None, at_s(4)).expect("fail succeeds");
    assert_all_fenced(store, &lease(&failing), at_s(5), "the lease of a failed task");
    let retried = running(store, task_id("work", "retried"), at_s(6));
    let error = TaskError::new("again");
    store.fail(&lease(&retried), error, Some(at_s(100)), at_s(7)).expect("fail succeeds");
    assert_eq!(fetch(store, &retried.id).status, TaskStatus::Queued);
    assert_all_fenced(store, &lease(&retried), at_s(8), "the lease of a task waiting to retry");
    assert!(super::support::claim(store, &request(5), at(8_000)).is_empty());
}

/// `start`: "Lease-fenced. A task already running gives `StoreError::Refused`"; a start moves
/// a claimed task to running with `startedAt`.
pub fn start_moves_claimed_task_to_running(store: &dyn TaskStore) {
    let queued = put(store, task_id("work", "t1"), T0);
    let claimed = claim_id(store, &queued.id, T0);
    let started = store.start(&lease(&claimed), at_s(1)).expect("start succeeds");
    assert_eq!(started.status, TaskStatus::Running);
    assert_eq!(started.started_at, Some(at_s(1)));
    assert_eq!(started.last_heartbeat_at, Some(at_s(1)));
    assert_eq!(started.revision, claimed.revision + 1);
    assert_eq!(started.lease_token, claimed.lease_token);
    assert_eq!(fetch(store, &claimed.id), started);
    let before = picture(store);
    assert_kind(store.start(&lease(&claimed), at_s(2)), StoreErrorKind::Refused);
    assert_eq!(picture(store), before, "a refused start changes nothing");
}
