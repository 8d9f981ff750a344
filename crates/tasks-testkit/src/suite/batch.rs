//! Behaviours of the batched worker writes, `start_batch` and `finish_batch`: each item gives
//! exactly what its single call gives (checked by running twin tasks through the single calls
//! and through the batch at the same instant), fencing refuses only the stale items, an empty
//! batch changes nothing, and each accepted item is one change with one revision.

use serde_json::json;
use tasks_core::limits::MAX_PAYLOAD_BYTES;
use tasks_core::{
    ChangeKind, Finish, Lease, LeaseToken, StoreError, StoreErrorKind, TaskError, TaskId,
    TaskRecord, TaskStatus, TaskStore,
};

use super::support::{
    T0, assert_unchanged, assert_unchanged_except, at_s, claim, fetch, forged_lease, lease,
    picture, put, request, running, task_id, task_with, tid,
};

/// A record with what differs between twin tasks blanked: the id and the lease token.
fn twin_view(record: &TaskRecord) -> TaskRecord {
    let mut record = record.clone();
    record.id = tid("twin");
    record.lease_token =
        record.lease_token.as_ref().map(|_| LeaseToken::from_stored("held".into()));
    record
}

/// A result with the record seen as [`twin_view`] and an error reduced to its kind.
fn twin_outcome(result: &Result<TaskRecord, StoreError>) -> Result<TaskRecord, StoreErrorKind> {
    result.as_ref().map(twin_view).map_err(StoreError::kind)
}

/// Asserts that each item of a batch gave what the single call gave its twin, and that the
/// store holds each record a batch returned.
#[track_caller]
fn assert_twins(
    store: &dyn TaskStore,
    singles: &[Result<TaskRecord, StoreError>],
    batch: &[Result<TaskRecord, StoreError>],
) {
    assert_eq!(batch.len(), singles.len(), "one result per item, in input order");
    for (index, (single, batched)) in singles.iter().zip(batch).enumerate() {
        assert_eq!(
            twin_outcome(batched),
            twin_outcome(single),
            "item {index} differs from its single call"
        );
        if let Ok(record) = batched {
            assert_eq!(&fetch(store, &record.id), record, "the store holds item {index}");
        }
    }
}

/// Claims every due task at `now` (the caller arranged which are due) in id order.
fn claim_all(store: &dyn TaskStore, count: u32, now: tasks_core::Timestamp) -> Vec<TaskRecord> {
    let mut claimed = claim(store, &request(count), now);
    assert_eq!(claimed.len(), count as usize, "every due task is claimed");
    claimed.sort_by(|a, b| a.id.cmp(&b.id));
    claimed
}

/// `start_batch`: "One result per lease, in input order, each exactly what `start` would
/// return alone, applied in input order ...: a stale lease refuses only its own item."
pub fn start_batch_matches_single_starts(store: &dyn TaskStore) {
    for id in ["a1", "a2", "b1", "b2", "c1"] {
        put(store, task_id("work", id), T0);
    }
    let claimed = claim_all(store, 5, at_s(1));
    let (a, b, c) = (&claimed[0..2], &claimed[2..4], &claimed[4]);
    let now = at_s(2);
    let singles: Vec<_> = a.iter().map(|record| store.start(&lease(record), now)).collect();
    let batch =
        store.start_batch(&[lease(&b[0]), lease(&b[1])], now).expect("the batch is written");
    assert_twins(store, &singles, &batch);
    for (before, after) in b.iter().zip(&batch) {
        let after = after.as_ref().expect("a live lease starts");
        assert_eq!((after.status, after.started_at), (TaskStatus::Running, Some(now)));
        assert_eq!(after.revision, before.revision + 1, "each item is one change");
    }

    // Mixed: a good lease among a forged one, a task already running, a task that does not
    // exist, and the good lease given twice.
    let before = picture(store);
    let missing = Lease { task_id: tid("missing"), token: LeaseToken::from_stored("x".into()) };
    let mixed = [forged_lease(c), lease(&a[0]), lease(c), missing, lease(c)];
    let results = store.start_batch(&mixed, at_s(3)).expect("the batch is written");
    let kinds: Vec<_> = results
        .iter()
        .map(|r| r.as_ref().map(|t| t.id.clone()).map_err(StoreError::kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            Err(StoreErrorKind::LeaseLost),
            Err(StoreErrorKind::Refused),
            Ok(c.id.clone()),
            Err(StoreErrorKind::LeaseLost),
            Err(StoreErrorKind::Refused),
        ],
        "each item fenced on its own, in input order"
    );
    let started = fetch(store, &c.id);
    assert_eq!((started.status, started.revision), (TaskStatus::Running, c.revision + 1));
    assert_unchanged_except(store, &before, &[&c.id], "the refused items of a start batch");
}

/// `claim_and_start`: "One item per claimed task, in claim order: `claimed` is exactly what
/// `claim` would return, `started` exactly what `start` with its lease would then return ...,
/// and the store holds `started`." Twin tasks go through `claim` then `start`, and through
/// `claim_and_start`, at the same instant; the claim rules are the claim's own (here: a task
/// not yet due and a second task of a busy concurrency key are left queued).
pub fn claim_and_start_matches_claim_then_start(store: &dyn TaskStore) {
    let keyed = |id: &str| {
        task_with("work", id, tasks_core::EnqueueOptions::new().concurrency_key("one-at-a-time"))
    };
    put(store, task_id("work", "a1"), T0);
    put(store, task_id("work", "a2"), T0);
    let now = at_s(1);
    let claimed = claim(store, &request(5), now);
    let singles: Vec<_> = claimed.iter().map(|record| store.start(&lease(record), now)).collect();
    put(store, task_id("work", "b1"), T0);
    put(store, task_id("work", "b2"), T0);
    let before = picture(store);
    let items = store.claim_and_start(&request(5), now).expect("claimed and started");
    assert_eq!(items.len(), claimed.len(), "the same claim rules: one item per claimed task");
    let ids: Vec<&TaskId> = items.iter().map(|item| &item.claimed.id).collect();
    assert_eq!(ids, [&tid("b1"), &tid("b2")], "in claim order");
    for ((item, single_claim), single_start) in items.iter().zip(&claimed).zip(&singles) {
        assert_eq!(twin_view(&item.claimed), twin_view(single_claim), "claimed as claim claims");
        assert_eq!(twin_outcome(&item.started), twin_outcome(single_start), "started as start");
        let started = item.started.as_ref().expect("a task just claimed starts");
        assert_eq!(started.lease_token, item.claimed.lease_token, "the claim's lease runs on");
        assert_eq!(started.revision, item.claimed.revision + 1, "the start is one change more");
        assert_eq!(&fetch(store, &started.id), started, "the store holds the started task");
    }
    let changed: Vec<&TaskId> = items.iter().map(|item| &item.claimed.id).collect();
    assert_unchanged_except(store, &before, &changed, "claim_and_start of the due tasks");

    // The claim's rules hold: of two due tasks sharing a concurrency key one is taken, and a
    // task not yet due stays queued; nothing due gives nothing.
    put(store, keyed("k1"), T0);
    put(store, keyed("k2"), T0);
    put(
        store,
        task_with("later", "l1", tasks_core::EnqueueOptions::new().scheduled_at(at_s(60))),
        T0,
    );
    let items = store.claim_and_start(&request(5), at_s(2)).expect("claimed and started");
    let ids: Vec<&TaskId> = items.iter().map(|item| &item.claimed.id).collect();
    assert_eq!(ids, [&tid("k1")], "one task per concurrency key, none not due");
    assert_eq!(fetch(store, &tid("k2")).status, TaskStatus::Queued);
    assert_eq!(fetch(store, &tid("l1")).status, TaskStatus::Queued);
    assert!(store.claim_and_start(&request(5), at_s(3)).expect("an empty claim").is_empty());

    // A lease shorter than a millisecond has run out as it is given: each start is refused as
    // `start` refuses it, and the store holds the task claimed.
    put(store, task_id("work", "short"), at_s(4));
    let mut short = request(1);
    short.lease = std::time::Duration::from_micros(500);
    let items = store.claim_and_start(&short, at_s(4)).expect("claimed");
    assert_eq!(items.len(), 1, "the claim itself stands");
    let refused = items[0].started.as_ref().map_err(StoreError::kind);
    assert_eq!(refused.err(), Some(StoreErrorKind::LeaseLost), "the start is refused");
    assert_eq!(fetch(store, &tid("short")), items[0].claimed, "the store holds it claimed");
}

/// `finish_batch`: "One result per finish, in input order, each exactly what the single call
/// ... would return alone": complete, fail with a retry, fail for good, and acknowledge a
/// requested cancel, on twin tasks.
pub fn finish_batch_matches_single_finishes(store: &dyn TaskStore) {
    for id in ["a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"] {
        put(store, task_id("work", id), T0);
    }
    let claimed = claim_all(store, 8, at_s(1));
    for record in &claimed {
        store.start(&lease(record), at_s(1)).expect("start");
    }
    for id in ["a4", "b4"] {
        store.cancel(&tid(id), Some("user"), at_s(2)).expect("cancel request");
    }
    let finishes = |group: &[TaskRecord]| {
        vec![
            Finish::Complete { lease: lease(&group[0]), output: json!({"rows": 3}) },
            Finish::Fail {
                lease: lease(&group[1]),
                error: TaskError::new("timeout").with_code("timeout"),
                retry_at: Some(at_s(60)),
            },
            Finish::Fail { lease: lease(&group[2]), error: TaskError::new("bad"), retry_at: None },
            Finish::AcknowledgeCancel { lease: lease(&group[3]), reason: Some("stopped".into()) },
        ]
    };
    let now = at_s(3);
    let singles: Vec<_> = finishes(&claimed[0..4])
        .into_iter()
        .map(|finish| match finish {
            Finish::Complete { lease, output } => store.complete(&lease, output, now),
            Finish::Fail { lease, error, retry_at } => store.fail(&lease, error, retry_at, now),
            Finish::AcknowledgeCancel { lease, reason } => {
                store.acknowledge_cancel(&lease, reason.as_deref(), now)
            }
        })
        .collect();
    let batch = store.finish_batch(&finishes(&claimed[4..8]), now).expect("the batch is written");
    assert_twins(store, &singles, &batch);
    let statuses: Vec<_> =
        batch.iter().map(|r| r.as_ref().map(|t| t.status).map_err(StoreError::kind)).collect();
    assert_eq!(
        statuses,
        vec![
            Ok(TaskStatus::Succeeded),
            Ok(TaskStatus::Queued),
            Ok(TaskStatus::Failed),
            Ok(TaskStatus::Cancelled),
        ]
    );
    for (id, result) in ["b1", "b2", "b3", "b4"].into_iter().zip(&batch) {
        let record = result.as_ref().expect("every finish applies");
        assert_eq!(record.id, tid(id));
    }
}

/// `finish_batch`: "applied in input order: a stale lease or an invalid output refuses only
/// its own item"; a finish after its task's own finish in the same batch finds the lease gone.
pub fn finish_batch_refuses_only_stale_items(store: &dyn TaskStore) {
    let done = running(store, task_id("work", "done"), T0);
    store.complete(&lease(&done), json!(1), at_s(1)).expect("complete");
    let a = running(store, task_id("work", "a"), at_s(2));
    let b = running(store, task_id("work", "b"), at_s(3));
    let before = picture(store);
    let now = at_s(4);
    let huge = json!("o".repeat(MAX_PAYLOAD_BYTES));
    let items = [
        Finish::Complete { lease: forged_lease(&a), output: json!(1) },
        Finish::Complete { lease: lease(&b), output: huge },
        Finish::Fail { lease: lease(&done), error: TaskError::new("late"), retry_at: None },
        Finish::Complete { lease: lease(&a), output: json!({"ok": true}) },
        Finish::AcknowledgeCancel { lease: lease(&a), reason: None },
    ];
    let results = store.finish_batch(&items, now).expect("the batch is written");
    let kinds: Vec<_> =
        results.iter().map(|r| r.as_ref().map(|t| t.status).map_err(StoreError::kind)).collect();
    assert_eq!(
        kinds,
        vec![
            Err(StoreErrorKind::LeaseLost),
            Err(StoreErrorKind::InvalidInput),
            Err(StoreErrorKind::LeaseLost),
            Ok(TaskStatus::Succeeded),
            Err(StoreErrorKind::LeaseLost),
        ],
        "each item fenced and validated on its own, in input order"
    );
    let finished = fetch(store, &a.id);
    assert_eq!((finished.status, finished.revision), (TaskStatus::Succeeded, a.revision + 1));
    assert_unchanged_except(store, &before, &[&a.id], "the refused items of a finish batch");
    store.complete(&lease(&b), json!(2), at_s(5)).expect("the refused item's lease still holds");
}

/// `start_batch` and `finish_batch`: "An empty batch changes nothing and returns no result."
pub fn empty_batches_change_nothing(store: &dyn TaskStore) {
    running(store, task_id("work", "busy"), T0);
    let before = picture(store);
    let cursor = store.capabilities().change_feed.then(|| store.change_cursor().expect("cursor"));
    assert!(store.start_batch(&[], at_s(1)).expect("an empty start batch").is_empty());
    assert!(store.finish_batch(&[], at_s(1)).expect("an empty finish batch").is_empty());
    assert_unchanged(store, &before, "an empty batch");
    if let Some(cursor) = cursor {
        let page = store.read_changes(Some(&cursor), 10).expect("read_changes");
        assert!(page.changes.is_empty(), "an empty batch logs no change");
    }
}

/// The change feed of batches: each accepted item is one change at its new revision, in input
/// order, and a refused item logs none (checked where the store has a change feed; the
/// revisions on every store).
pub fn batch_items_are_one_change_each(store: &dyn TaskStore) {
    for id in ["a", "b", "c"] {
        put(store, task_id("work", id), T0);
    }
    let claimed = claim_all(store, 3, at_s(1));
    let cursor = store.capabilities().change_feed.then(|| store.change_cursor().expect("cursor"));
    let leases: Vec<Lease> = claimed.iter().map(lease).collect();
    let stale = forged_lease(&claimed[1]);
    let started = store
        .start_batch(&[leases[2].clone(), stale.clone(), leases[0].clone()], at_s(2))
        .expect("the batch is written");
    let finishes = [
        Finish::Complete { lease: leases[0].clone(), output: json!(0) },
        Finish::Complete { lease: stale, output: json!(1) },
        Finish::Fail { lease: leases[2].clone(), error: TaskError::new("x"), retry_at: None },
        Finish::Complete { lease: leases[1].clone(), output: json!(1) },
    ];
    let ended = store.finish_batch(&finishes, at_s(3)).expect("the batch is written");
    let accepted: Vec<(TaskId, u64)> = started
        .iter()
        .chain(&ended)
        .filter_map(|result| result.as_ref().ok())
        .map(|record| (record.id.clone(), record.revision))
        .collect();
    let expected = vec![
        (tid("c"), claimed[2].revision + 1),
        (tid("a"), claimed[0].revision + 1),
        (tid("a"), claimed[0].revision + 2),
        (tid("c"), claimed[2].revision + 2),
        (tid("b"), claimed[1].revision + 1),
    ];
    assert_eq!(accepted, expected, "each accepted item raises its task's revision by one");
    if let Some(cursor) = cursor {
        let page = store.read_changes(Some(&cursor), 100).expect("read_changes");
        let mut logged: Vec<(TaskId, u64)> = page
            .changes
            .iter()
            .inspect(|change| assert_eq!(change.kind, ChangeKind::Updated))
            .map(|change| (change.task_id.clone(), change.revision))
            .collect();
        // The feed orders transactions, not the changes inside one: compare as sets.
        logged.sort();
        let mut expected = expected;
        expected.sort();
        assert_eq!(logged, expected, "one change per accepted item, none for a refused one");
    }
}
