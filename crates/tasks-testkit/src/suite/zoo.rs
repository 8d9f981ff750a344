//! The zoo: one task in each of the eight lifecycle states, with assorted kinds, channels and
//! keys, for the behaviours that read, filter and count.
//!
//! Every task is made while it is the only due queued task, so each claim takes exactly it.

use std::time::Duration;

use serde_json::json;
use tasks_core::{
    ClaimRequest, EnqueueOptions, LifecycleState, TaskError, TaskId, TaskRecord, TaskStore,
};

use super::support::{at_s, fetch, lease, put, task_with, tid};

/// The ids of the zoo, by the state each task is left in.
pub(crate) const ZOO: [(&str, LifecycleState); 8] = [
    ("z-succeeded", LifecycleState::Succeeded),
    ("z-failed", LifecycleState::Failed),
    ("z-cancelled", LifecycleState::Cancelled),
    ("z-retrying", LifecycleState::Retrying),
    ("z-stale", LifecycleState::Stale),
    ("z-claimed", LifecycleState::Claimed),
    ("z-running", LifecycleState::Running),
    ("z-queued", LifecycleState::Queued),
];

/// Zoo leases last an hour, so nothing expires while a behaviour looks at the zoo.
const ZOO_LEASE: Duration = Duration::from_secs(3600);

fn claim_long(store: &dyn TaskStore, id: &TaskId, now: tasks_core::Timestamp) -> TaskRecord {
    let claimed =
        store.claim(&ClaimRequest::new("zoo-runner", 1, ZOO_LEASE), now).expect("claim succeeds");
    assert_eq!(claimed.len(), 1, "the zoo claims one task at a time");
    assert_eq!(&claimed[0].id, id, "the zoo claims the only due task");
    claimed.into_iter().next().expect("one task")
}

/// Fills the store with the zoo, at `T0 + 1s` to `T0 + 8s` (one second per task, in the order
/// of [`ZOO`]), and returns every record as it ends up.
///
/// Kinds: `alpha` for even positions, `beta` for odd ones. Channels: every task carries
/// `zoo`, and `scope:<position mod 3>`. Keys: dedupe `dk-a` on the first three (finished one
/// after the other, so none blocks the next) and `dk-b` on the fourth; concurrency `ck-<id>`;
/// supersede `sk` on the first four. Priority: the position.
pub(crate) fn fill(store: &dyn TaskStore) -> Vec<TaskRecord> {
    let options = |position: usize| {
        let id = ZOO[position].0;
        let mut options = EnqueueOptions::new()
            .channel("zoo")
            .channel(format!("scope:{}", position % 3))
            .concurrency_key(format!("ck-{id}"))
            .priority(i32::try_from(position).unwrap_or(0));
        if position < 3 {
            options = options.dedupe_key("dk-a");
        } else if position == 3 {
            options = options.dedupe_key("dk-b");
        }
        if position < 4 {
            options = options.supersede_key("sk");
        }
        options
    };
    let kind = |position: usize| if position.is_multiple_of(2) { "alpha" } else { "beta" };
    for (position, (id, state)) in ZOO.iter().enumerate() {
        let now = at_s(i64::try_from(position).unwrap_or(0) + 1);
        let record = put(store, task_with(kind(position), id, options(position)), now);
        assert_eq!(record.id, tid(id), "zoo task {id} is created, not reused");
        match state {
            LifecycleState::Queued => {}
            LifecycleState::Cancelled => {
                store.cancel(&record.id, None, now).expect("cancel succeeds");
            }
            LifecycleState::Succeeded => {
                let claimed = claim_long(store, &record.id, now);
                store.complete(&lease(&claimed), json!({"ok": 1}), now).expect("complete");
            }
            LifecycleState::Failed => {
                let claimed = claim_long(store, &record.id, now);
                let error = TaskError::new("boom");
                store.fail(&lease(&claimed), error, None, now).expect("fail succeeds");
            }
            LifecycleState::Retrying => {
                let claimed = claim_long(store, &record.id, now);
                let error = TaskError::new("again");
                let retry_at = Some(at_s(86_400));
                store.fail(&lease(&claimed), error, retry_at, now).expect("fail succeeds");
            }
            LifecycleState::Claimed => {
                claim_long(store, &record.id, now);
            }
            LifecycleState::Running => {
                let claimed = claim_long(store, &record.id, now);
                store.start(&lease(&claimed), now).expect("start succeeds");
            }
            LifecycleState::Stale => {
                let claimed = claim_long(store, &record.id, now);
                let marked = store
                    .mark_stale(Duration::ZERO, "silent", 10, now)
                    .expect("mark_stale succeeds");
                assert_eq!(marked.len(), 1, "only the zoo's stale task is active yet");
                assert_eq!(marked[0].id, claimed.id);
            }
        }
    }
    let records: Vec<TaskRecord> = ZOO.iter().map(|(id, _)| fetch(store, &tid(id))).collect();
    for (record, (id, state)) in records.iter().zip(ZOO) {
        assert_eq!(LifecycleState::of(record), state, "zoo task {id} is {state:?}");
    }
    records
}
