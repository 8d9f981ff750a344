//! Behaviours of the reads `get` and `list`: every filter of `TaskFilter`, every `TaskOrder`
//! with ties by id, offset and limit, and invalid queries.

use tasks_core::limits::MAX_PAGE_LIMIT;
use tasks_core::{
    EnqueueOptions, LifecycleState, ProgressUpdate, StoreErrorKind, TaskFilter, TaskListQuery,
    TaskOrder, TaskRecord, TaskStatus, TaskStore,
};

use super::support::{
    T0, assert_kind, assert_unchanged, at_s, fetch, ids, lease, picture, put, task_id, task_with,
    tid,
};
use super::zoo::{self, ZOO};

/// What `list` must return for `query` over `records`, by core's own rules
/// (`TaskFilter::matches`, `TaskOrder::compare`, offset, then limit).
fn expected(records: &[TaskRecord], query: &TaskListQuery) -> Vec<String> {
    let (filter, limit) = query.normalized().expect("the suite's queries are valid");
    let mut matching: Vec<&TaskRecord> = records.iter().filter(|r| filter.matches(r)).collect();
    matching.sort_by(|a, b| query.order.compare(a, b));
    let offset = query.offset.unwrap_or(0) as usize;
    let page = matching.into_iter().skip(offset).take(limit as usize);
    page.map(|record| record.id.to_string()).collect()
}

/// Lists `filter` and checks the answer against core's rules, and against `want` (the ids
/// expected, in any order) so a filter can never pass by matching nothing.
#[track_caller]
fn check_filter(store: &dyn TaskStore, records: &[TaskRecord], filter: TaskFilter, want: &[&str]) {
    let query = TaskListQuery::filtered(filter);
    let got = ids(&store.list(&query).expect("list succeeds"));
    assert_eq!(got, expected(records, &query), "list({query:?})");
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut want: Vec<String> = want.iter().map(|id| (*id).to_owned()).collect();
    want.sort();
    assert_eq!(got_sorted, want, "list({query:?})");
}

/// `get`: "`Ok(None)` when no task has that id"; a known id gives its record.
pub fn get_returns_none_for_unknown_id(store: &dyn TaskStore) {
    assert_eq!(store.get(&tid("missing")).expect("get succeeds"), None);
    let created = put(store, task_id("work", "present"), T0);
    assert_eq!(store.get(&tid("missing")).expect("get succeeds"), None);
    assert_eq!(fetch(store, &tid("present")), created);
}

/// `list`: "Applies every filter of the query": task ids, kinds and channels (any of the
/// given channels; channels normalized), each an OR within and an AND across.
pub fn list_filters_by_ids_kinds_and_channels(store: &dyn TaskStore) {
    let records = zoo::fill(store);
    let all: Vec<&str> = ZOO.iter().map(|(id, _)| *id).collect();
    check_filter(store, &records, TaskFilter::all(), &all);
    let by_ids = TaskFilter {
        task_ids: vec![tid("z-failed"), tid("z-queued"), tid("no-such-task")],
        ..TaskFilter::all()
    };
    check_filter(store, &records, by_ids, &["z-failed", "z-queued"]);
    // The largest id list a filter may hold: a store must not trip over parameter limits.
    let mut many: Vec<_> = (0..MAX_PAGE_LIMIT - 1).map(|n| tid(&format!("absent-{n}"))).collect();
    many.push(tid("z-stale"));
    let by_many = TaskFilter { task_ids: many, ..TaskFilter::all() };
    check_filter(store, &records, by_many.clone(), &["z-stale"]);
    assert_eq!(store.aggregate(&by_many).expect("aggregate succeeds").total, 1);
    let alpha = TaskFilter { kinds: vec!["alpha".into()], ..TaskFilter::all() };
    check_filter(store, &records, alpha, &["z-succeeded", "z-cancelled", "z-stale", "z-running"]);
    let both = TaskFilter { kinds: vec!["alpha".into(), "beta".into()], ..TaskFilter::all() };
    check_filter(store, &records, both, &all);
    let none = TaskFilter { kinds: vec!["gamma".into()], ..TaskFilter::all() };
    check_filter(store, &records, none, &[]);
    let scope0 = TaskFilter { channels: vec![" scope:0 ".into()], ..TaskFilter::all() };
    check_filter(store, &records, scope0, &["z-succeeded", "z-retrying", "z-running"]);
    let scopes =
        TaskFilter { channels: vec!["scope:1".into(), "scope:2".into()], ..TaskFilter::all() };
    check_filter(
        store,
        &records,
        scopes,
        &["z-failed", "z-cancelled", "z-stale", "z-claimed", "z-queued"],
    );
    let and = TaskFilter {
        kinds: vec!["beta".into()],
        channels: vec!["scope:1".into()],
        ..TaskFilter::all()
    };
    check_filter(store, &records, and, &["z-failed", "z-queued"]);
}

/// `list`: filters by persisted status and by lifecycle state, including `retrying` (queued
/// with a retry time) and `stale` (claimed or running, marked stale).
pub fn list_filters_by_status_and_state(store: &dyn TaskStore) {
    let records = zoo::fill(store);
    for (id, state) in ZOO {
        let filter = TaskFilter { states: vec![state], ..TaskFilter::all() };
        check_filter(store, &records, filter, &[id]);
    }
    let open = TaskFilter {
        states: vec![LifecycleState::Retrying, LifecycleState::Stale, LifecycleState::Queued],
        ..TaskFilter::all()
    };
    check_filter(store, &records, open, &["z-retrying", "z-stale", "z-queued"]);
    let queued = TaskFilter { statuses: vec![TaskStatus::Queued], ..TaskFilter::all() };
    check_filter(store, &records, queued, &["z-retrying", "z-queued"]);
    let running = TaskFilter { statuses: vec![TaskStatus::Running], ..TaskFilter::all() };
    check_filter(store, &records, running, &["z-running"]);
    let claimed = TaskFilter { statuses: vec![TaskStatus::Claimed], ..TaskFilter::all() };
    check_filter(store, &records, claimed, &["z-stale", "z-claimed"]);
    let finished = TaskFilter {
        statuses: vec![TaskStatus::Succeeded, TaskStatus::Failed, TaskStatus::Cancelled],
        ..TaskFilter::all()
    };
    check_filter(store, &records, finished, &["z-succeeded", "z-failed", "z-cancelled"]);
    let both = TaskFilter {
        statuses: vec![TaskStatus::Claimed],
        states: vec![LifecycleState::Stale],
        ..TaskFilter::all()
    };
    check_filter(store, &records, both, &["z-stale"]);
}

/// `list`: filters by dedupe key, concurrency key and supersede key (exact match).
pub fn list_filters_by_keys(store: &dyn TaskStore) {
    let records = zoo::fill(store);
    let dedupe = TaskFilter { dedupe_key: Some("dk-a".into()), ..TaskFilter::all() };
    check_filter(store, &records, dedupe, &["z-succeeded", "z-failed", "z-cancelled"]);
    let concurrency =
        TaskFilter { concurrency_key: Some("ck-z-running".into()), ..TaskFilter::all() };
    check_filter(store, &records, concurrency, &["z-running"]);
    let supersede = TaskFilter { supersede_key: Some("sk".into()), ..TaskFilter::all() };
    check_filter(
        store,
        &records,
        supersede,
        &["z-succeeded", "z-failed", "z-cancelled", "z-retrying"],
    );
    let prefix = TaskFilter { dedupe_key: Some("dk".into()), ..TaskFilter::all() };
    check_filter(store, &records, prefix, &[]);
    let combined = TaskFilter {
        dedupe_key: Some("dk-a".into()),
        supersede_key: Some("sk".into()),
        kinds: vec!["beta".into()],
        ..TaskFilter::all()
    };
    check_filter(store, &records, combined, &["z-failed"]);
}

/// `list`: "the order (ties by id)": newest first by default, oldest first, most recently
/// changed first, earliest and latest due first; equal instants are ordered by id in the same
/// direction.
pub fn list_orders_with_ties_by_id(store: &dyn TaskStore) {
    for id in ["tie-b", "tie-c", "tie-a"] {
        put(store, task_id("work", id), T0);
    }
    put(store, task_id("work", "old"), at_s(-5));
    put(store, task_id("work", "new"), at_s(5));
    // Created first, due last.
    let delay = EnqueueOptions::new().delay(std::time::Duration::from_secs(60));
    put(store, task_with("work", "delayed", delay), at_s(-10));
    let order = |order: TaskOrder| {
        ids(&store.list(&TaskListQuery::all().order(order)).expect("list succeeds"))
    };
    let created_desc = ["new", "tie-c", "tie-b", "tie-a", "old", "delayed"];
    assert_eq!(order(TaskOrder::CreatedDesc), created_desc);
    assert_eq!(ids(&store.list(&TaskListQuery::all()).expect("list")), created_desc, "default");
    assert_eq!(order(TaskOrder::CreatedAsc), ["delayed", "old", "tie-a", "tie-b", "tie-c", "new"]);
    assert_eq!(
        order(TaskOrder::ScheduledAsc),
        ["old", "tie-a", "tie-b", "tie-c", "new", "delayed"]
    );
    assert_eq!(
        order(TaskOrder::ScheduledDesc),
        ["delayed", "new", "tie-c", "tie-b", "tie-a", "old"]
    );
    // Change `tie-a` last and `new` before it: updated order differs from created order.
    let claimed = super::support::claim(store, &super::support::request(10), at_s(10));
    assert_eq!(claimed.len(), 5, "all but the delayed task are due");
    let lease_of = |id: &str| lease(claimed.iter().find(|r| r.id == tid(id)).expect("claimed"));
    let update = ProgressUpdate::percent(5.0);
    store.set_progress(&lease_of("new"), &update, at_s(20)).expect("progress succeeds");
    store.set_progress(&lease_of("tie-a"), &update, at_s(30)).expect("progress succeeds");
    assert_eq!(order(TaskOrder::UpdatedDesc), ["tie-a", "new", "tie-c", "tie-b", "old", "delayed"]);
    let records = store.list(&TaskListQuery::all()).expect("list succeeds");
    let orders = [
        TaskOrder::CreatedDesc,
        TaskOrder::CreatedAsc,
        TaskOrder::UpdatedDesc,
        TaskOrder::ScheduledAsc,
        TaskOrder::ScheduledDesc,
    ];
    for query in orders.map(|o| TaskListQuery::all().order(o).offset(1).limit(4)) {
        let got = ids(&store.list(&query).expect("list succeeds"));
        assert_eq!(got, expected(&records, &query), "list({query:?})");
    }
}

/// `list`: "the offset, then the limit (100 when absent, at most 10,000)", applied after the
/// filter and the order.
pub fn list_pages_with_offset_and_limit(store: &dyn TaskStore) {
    let batch: Vec<_> = (0..120u32)
        .map(|n| {
            let kind = if n.is_multiple_of(2) { "even" } else { "odd" };
            task_with(kind, &format!("p{n:03}"), EnqueueOptions::new())
        })
        .collect();
    store.enqueue_batch(batch, T0).expect("batch succeeds");
    let page = |query: TaskListQuery| ids(&store.list(&query).expect("list succeeds"));
    let asc = TaskListQuery::all().order(TaskOrder::CreatedAsc);
    assert_eq!(page(TaskListQuery::all()).len(), 100, "100 when absent");
    assert_eq!(page(asc.clone().limit(MAX_PAGE_LIMIT)).len(), 120);
    assert_eq!(page(asc.clone().limit(3)), ["p000", "p001", "p002"]);
    assert_eq!(page(asc.clone().offset(3).limit(2)), ["p003", "p004"]);
    assert_eq!(page(asc.clone().offset(118)), ["p118", "p119"]);
    assert!(page(asc.clone().offset(500)).is_empty());
    assert_eq!(page(TaskListQuery::all().offset(1).limit(2)), ["p118", "p117"]);
    let odd = TaskFilter { kinds: vec!["odd".into()], ..TaskFilter::all() };
    let odd_page = TaskListQuery::filtered(odd).order(TaskOrder::CreatedAsc).offset(10).limit(3);
    assert_eq!(page(odd_page), ["p021", "p023", "p025"], "offset applies after the filter");
}

/// `list`: "An invalid filter or limit gives `StoreError::InvalidInput`" (a limit of 0 or
/// over 10,000, a bad channel, too many channels or task ids, a bad kind or key); nothing
/// changes.
pub fn list_refuses_invalid_query(store: &dyn TaskStore) {
    super::support::some_tasks(store);
    let before = picture(store);
    let bad_filters = [
        TaskFilter { channels: vec!["has space".into()], ..TaskFilter::all() },
        TaskFilter { channels: (0..40).map(|n| format!("c{n}")).collect(), ..TaskFilter::all() },
        TaskFilter { kinds: vec![String::new()], ..TaskFilter::all() },
        TaskFilter { dedupe_key: Some(String::new()), ..TaskFilter::all() },
        TaskFilter {
            task_ids: (0..=MAX_PAGE_LIMIT).map(|n| tid(&format!("t{n}"))).collect(),
            ..TaskFilter::all()
        },
    ];
    for filter in bad_filters {
        assert_kind(
            store.list(&TaskListQuery::filtered(filter.clone())),
            StoreErrorKind::InvalidInput,
        );
        assert_kind(store.aggregate(&filter), StoreErrorKind::InvalidInput);
    }
    assert_kind(store.list(&TaskListQuery::all().limit(0)), StoreErrorKind::InvalidInput);
    let over = TaskListQuery::all().limit(MAX_PAGE_LIMIT + 1);
    assert_kind(store.list(&over), StoreErrorKind::InvalidInput);
    assert_unchanged(store, &before, "an invalid list");
}
