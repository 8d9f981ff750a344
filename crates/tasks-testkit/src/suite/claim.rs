//! Behaviours of `claim`: what a claimed record looks like, which tasks are due, the claim
//! order, the per-call, per-kind and store-wide limits, concurrency keys, and invalid
//! requests (the rules in the docs of `tasks_core::lease`).

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use tasks_core::lease::MAX_CLAIM_BATCH;
use tasks_core::{ClaimRequest, EnqueueOptions, KindClaim, StoreErrorKind, TaskStatus, TaskStore};

use super::support::{
    LEASE, RUNNER, T0, assert_kind, assert_unchanged, at, at_s, claim, fetch, ids, lease, picture,
    put, request, request_kinds, some_tasks, sorted_ids, task_id, task_with,
};

fn kind_claim(kind: &str, limit: Option<u32>, max_active: Option<u32>) -> KindClaim {
    KindClaim { kind: kind.into(), limit, max_active }
}

/// Enqueues `count` tasks of `kind` with ids `<prefix>0`, `<prefix>1`, ... at `T0`.
fn many(store: &dyn TaskStore, kind: &str, prefix: &str, count: usize) {
    let batch = (0..count).map(|n| task_id(kind, &format!("{prefix}{n}"))).collect();
    store.enqueue_batch(batch, T0).expect("batch succeeds");
}

/// `claim`: "Each claimed task is `claimed`, with `attempt + 1`, a fresh lease token,
/// `leaseOwner` the runner, and `leaseExpiresAt = now + lease`"; the store keeps exactly the
/// record it returned.
pub fn claim_takes_due_task_with_fresh_lease(store: &dyn TaskStore) {
    let queued = put(store, task_id("work", "t1"), T0);
    let claimed = claim(store, &request(10), at_s(1));
    assert_eq!(ids(&claimed), ["t1"]);
    let record = &claimed[0];
    assert_eq!(record.status, TaskStatus::Claimed);
    assert_eq!(record.attempt, 1);
    assert_eq!(record.lease_owner.as_deref(), Some(RUNNER));
    assert!(record.lease_token.is_some());
    assert_eq!(record.lease_expires_at, Some(at_s(1).saturating_add(LEASE)));
    assert_eq!(record.claimed_at, Some(at_s(1)));
    assert_eq!(record.last_heartbeat_at, Some(at_s(1)), "a claim is a sign of life");
    assert_eq!((record.revision, record.updated_at), (queued.revision + 1, at_s(1)));
    assert_eq!(&fetch(store, &record.id), record);
    assert!(claim(store, &request(10), at_s(2)).is_empty(), "a claimed task is not due");
}

/// `claim`: "No two callers ... ever claim the same task under the same attempt": successive
/// claims take different tasks, with different tokens, until none is left.
pub fn claim_takes_each_task_once(store: &dyn TaskStore) {
    many(store, "work", "t", 3);
    let first = claim(store, &request(1), at_s(1));
    let second = claim(store, &ClaimRequest::new("runner-2", 1, LEASE), at_s(1));
    let third = claim(store, &request(5), at_s(2));
    let all = [first, second, third].concat();
    assert_eq!(sorted_ids(&all), ["t0", "t1", "t2"]);
    let tokens: HashSet<&str> =
        all.iter().filter_map(|r| r.lease_token.as_ref().map(|t| t.as_str())).collect();
    assert_eq!(tokens.len(), 3, "every claim mints its own token");
    assert!(claim(store, &request(5), at_s(3)).is_empty());
    assert!(claim(store, &ClaimRequest::new("runner-2", 5, LEASE), at_s(3)).is_empty());
}

/// `tasks_core::lease`: "only `queued` tasks whose `scheduledAt` has come are claimable",
/// for a task given `scheduledAt` and one given a delay; each becomes claimable exactly at
/// its time.
pub fn claim_skips_tasks_not_yet_due(store: &dyn TaskStore) {
    put(store, task_with("work", "at", EnqueueOptions::new().scheduled_at(at_s(60))), T0);
    put(
        store,
        task_with("work", "delay", EnqueueOptions::new().delay(Duration::from_secs(90))),
        T0,
    );
    assert!(claim(store, &request(10), T0).is_empty());
    assert!(claim(store, &request(10), at(59_999)).is_empty(), "not one millisecond early");
    assert_eq!(ids(&claim(store, &request(10), at_s(60))), ["at"]);
    assert!(claim(store, &request(10), at(89_999)).is_empty());
    assert_eq!(ids(&claim(store, &request(10), at_s(90))), ["delay"]);
}

/// `tasks_core::lease`: "higher `priority` first, then the longest due (`scheduledAt`
/// ascending), then by id". Age is the schedule, not the creation time.
pub fn claim_orders_by_priority_then_schedule_then_id(store: &dyn TaskStore) {
    put(store, task_with("work", "low", EnqueueOptions::new().priority(-1)), T0);
    put(store, task_with("work", "plain-b", EnqueueOptions::new()), at_s(2));
    put(store, task_with("work", "plain-a", EnqueueOptions::new()), at_s(2));
    put(store, task_with("work", "high-new", EnqueueOptions::new().priority(5)), at_s(3));
    put(store, task_with("work", "high-old", EnqueueOptions::new().priority(5)), at_s(1));
    // Created first but due last among the plain ones.
    let late = EnqueueOptions::new().delay(Duration::from_secs(4));
    put(store, task_with("work", "plain-late", late), T0);
    put(store, task_with("work", "plain-early", EnqueueOptions::new()), at_s(1));
    let mut order = Vec::new();
    loop {
        let claimed = claim(store, &request(1), at_s(10));
        if claimed.is_empty() {
            break;
        }
        order.extend(ids(&claimed));
    }
    assert_eq!(
        order,
        ["high-old", "high-new", "plain-early", "plain-a", "plain-b", "plain-late", "low"]
    );
}

/// `claim`: "Claims up to `request.limit` due tasks" in one call, the first in claim order.
pub fn claim_batch_respects_limit(store: &dyn TaskStore) {
    many(store, "work", "t", 10);
    put(store, task_with("work", "urgent", EnqueueOptions::new().priority(9)), at_s(1));
    let first = claim(store, &request(4), at_s(1));
    assert_eq!(first.len(), 4);
    assert!(ids(&first).contains(&"urgent".to_owned()), "the batch takes the first in order");
    let second = claim(store, &request(MAX_CLAIM_BATCH), at_s(1));
    assert_eq!(second.len(), 7);
    let mut all = sorted_ids(&[first, second].concat());
    all.dedup();
    assert_eq!(all.len(), 11, "no task is claimed twice");
    assert!(claim(store, &request(4), at_s(1)).is_empty());
}

/// `tasks_core::lease`: a claim takes only the kinds it names, and "at most
/// `KindClaim::limit` per kind in the call".
pub fn claim_respects_kinds_and_kind_limit(store: &dyn TaskStore) {
    many(store, "a", "a", 5);
    many(store, "b", "b", 5);
    many(store, "c", "c", 5);
    let kinds = vec![kind_claim("a", Some(2), None), KindClaim::any("b")];
    let claimed = claim(store, &request_kinds(10, kinds.clone()), at_s(1));
    let count = |kind: &str| claimed.iter().filter(|r| r.kind == kind).count();
    assert_eq!((count("a"), count("b"), count("c")), (2, 5, 0));
    assert_eq!(claimed.len(), 7);
    let again = claim(store, &request_kinds(10, kinds), at_s(2));
    assert_eq!(again.len(), 2, "the kind limit is per call");
    assert!(again.iter().all(|r| r.kind == "a"));
    let only_c = claim(store, &request_kinds(2, vec![KindClaim::any("c")]), at_s(3));
    assert_eq!(only_c.len(), 2);
    assert!(only_c.iter().all(|r| r.kind == "c"));
}

/// `tasks_core::lease`: "a kind's `maxActive` ... caps the tasks claimed or running in the
/// whole store (of that kind) after the claim", whoever claimed them.
pub fn claim_respects_kind_max_active(store: &dyn TaskStore) {
    many(store, "a", "a", 6);
    many(store, "b", "b", 2);
    let capped = || vec![kind_claim("a", None, Some(3)), KindClaim::any("b")];
    let first = claim(store, &request_kinds(10, capped()), at_s(1));
    let count = |records: &[tasks_core::TaskRecord], kind: &str| {
        records.iter().filter(|r| r.kind == kind).count()
    };
    assert_eq!((count(&first, "a"), count(&first, "b")), (3, 2));
    let other = ClaimRequest::new("runner-2", 10, LEASE).kinds(capped());
    assert!(claim(store, &other, at_s(2)).is_empty(), "the cap is store-wide");
    let one = first.iter().find(|r| r.kind == "a").expect("an a task");
    store.start(&lease(one), at_s(3)).expect("start succeeds");
    assert!(claim(store, &other, at_s(3)).is_empty(), "running tasks count too");
    store.complete(&lease(one), json!(null), at_s(4)).expect("complete succeeds");
    let freed = claim(store, &other, at_s(5));
    assert_eq!(count(&freed, "a"), 1, "a finished task frees its slot");
    let uncapped = claim(store, &request_kinds(10, vec![KindClaim::any("a")]), at_s(6));
    assert_eq!(uncapped.len(), 2, "another request without the cap is not capped");
}

/// `tasks_core::lease`: "the request's `maxActive` caps the tasks claimed or running in the
/// whole store (of every kind) after the claim".
pub fn claim_respects_global_max_active(store: &dyn TaskStore) {
    many(store, "a", "a", 4);
    many(store, "b", "b", 4);
    let first = claim(store, &request(10).max_active(3), at_s(1));
    assert_eq!(first.len(), 3);
    let first_two = claim(store, &request(10).max_active(5), at_s(2));
    assert_eq!(first_two.len(), 2, "counts what is already claimed");
    store.start(&lease(&first[0]), at_s(3)).expect("start succeeds");
    assert!(claim(store, &request(10).max_active(5), at_s(3)).is_empty());
    store.complete(&lease(&first[0]), json!(null), at_s(4)).expect("complete succeeds");
    let other = ClaimRequest::new("runner-2", 10, LEASE).max_active(5);
    assert_eq!(claim(store, &other, at_s(5)).len(), 1, "the cap is store-wide");
    let kinds = vec![kind_claim("b", None, Some(100))];
    let capped = request_kinds(10, kinds).max_active(6);
    let last = claim(store, &capped, at_s(6));
    assert_eq!(last.len(), 1, "the global cap holds alongside a kind cap");
}

/// `tasks_core::lease`: "at most one task per `concurrencyKey` is claimed or running in the
/// whole store", within one batch and across calls; the next task of a key is claimable once
/// the active one finishes. Tasks without a key are not limited.
pub fn claim_one_task_per_concurrency_key(store: &dyn TaskStore) {
    let keyed = |id: &str, key: &str, priority: i32| {
        task_with("work", id, EnqueueOptions::new().concurrency_key(key).priority(priority))
    };
    put(store, keyed("x1", "x", 3), T0);
    put(store, keyed("x2", "x", 2), T0);
    put(store, keyed("x3", "x", 1), T0);
    put(store, keyed("y1", "y", 0), T0);
    put(store, keyed("y2", "y", 0), at_s(1));
    put(store, task_id("work", "free1"), T0);
    put(store, task_id("work", "free2"), T0);
    let first = claim(store, &request(10), at_s(2));
    assert_eq!(sorted_ids(&first), ["free1", "free2", "x1", "y1"], "one per key in a batch");
    assert!(claim(store, &ClaimRequest::new("runner-2", 10, LEASE), at_s(3)).is_empty());
    let x1 = first.iter().find(|r| r.id.as_str() == "x1").expect("x1 claimed");
    store.start(&lease(x1), at_s(4)).expect("start succeeds");
    assert!(claim(store, &request(10), at_s(4)).is_empty(), "running holds the key too");
    store.complete(&lease(x1), json!(null), at_s(5)).expect("complete succeeds");
    assert_eq!(ids(&claim(store, &request(10), at_s(6))), ["x2"]);
    let y1 = first.iter().find(|r| r.id.as_str() == "y1").expect("y1 claimed");
    store.release(&lease(y1), at_s(7)).expect("release succeeds");
    // y1 was given back due at 7s, so y2 (due at 1s) is now first in order for key y.
    assert_eq!(ids(&claim(store, &request(10), at_s(8))), ["y2"], "the key is free again");
}

/// `tasks_core::lease`: a batch whose first candidates share a key fills up from the tasks
/// behind them: the passed-over ones do not count against the limit.
pub fn claim_fills_a_batch_past_tasks_of_a_held_key(store: &dyn TaskStore) {
    let keyed = |id: &str, priority: i32| {
        task_with("work", id, EnqueueOptions::new().concurrency_key("x").priority(priority))
    };
    put(store, keyed("x1", 3), T0);
    put(store, keyed("x2", 2), T0);
    put(store, keyed("x3", 1), T0);
    put(store, task_id("work", "free1"), T0);
    put(store, task_id("work", "free2"), T0);
    let first = claim(store, &request(2), at_s(1));
    assert_eq!(ids(&first), ["x1", "free1"], "x2 and x3 passed over, free1 taken in claim order");
    assert_eq!(ids(&claim(store, &request(2), at_s(2))), ["free2"], "the key is still held");
}

/// `lease::ClaimRequest::validate`: an empty runner, a limit of 0 or over 1000, a zero lease
/// or an invalid kind gives `InvalidInput`, and nothing is claimed.
pub fn claim_refuses_invalid_request(store: &dyn TaskStore) {
    some_tasks(store);
    let before = picture(store);
    let bad = [
        ClaimRequest::new("", 1, LEASE),
        ClaimRequest::new(RUNNER, 0, LEASE),
        ClaimRequest::new(RUNNER, MAX_CLAIM_BATCH + 1, LEASE),
        ClaimRequest::new(RUNNER, 1, Duration::ZERO),
        request_kinds(1, vec![KindClaim::any("bad kind")]),
    ];
    for request in bad {
        assert_kind(store.claim(&request, at_s(1)), StoreErrorKind::InvalidInput);
    }
    assert_unchanged(store, &before, "an invalid claim");
}
