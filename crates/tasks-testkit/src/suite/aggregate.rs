//! Behaviours of `aggregate`: counts by lifecycle state, status and kind, and the latest
//! `updatedAt`, equal to core's `TaskAggregate::from_records` over the same tasks.

use tasks_core::{LifecycleState, TaskAggregate, TaskFilter, TaskListQuery, TaskStatus, TaskStore};

use super::support::{T0, put, task_id, tid};
use super::zoo;

fn from_list(store: &dyn TaskStore, filter: &TaskFilter) -> TaskAggregate {
    let query = TaskListQuery::filtered(filter.clone()).limit(10_000);
    TaskAggregate::from_records(&store.list(&query).expect("list succeeds"))
}

/// `aggregate`: "Totals by lifecycle state, by status and by kind, and the latest
/// `updatedAt`, equal to `TaskAggregate::from_records` over the same tasks", for several
/// filters over one task in each state.
pub fn aggregate_matches_records(store: &dyn TaskStore) {
    let records = zoo::fill(store);
    let all = store.aggregate(&TaskFilter::all()).expect("aggregate succeeds");
    assert_eq!(all, TaskAggregate::from_records(&records));
    assert_eq!(all.total, 8);
    for state in LifecycleState::ALL {
        assert_eq!(all.by_state.get(state), 1, "{state:?}");
    }
    assert_eq!(all.by_status.get(TaskStatus::Claimed), 2, "claimed and stale");
    assert_eq!(all.by_status.get(TaskStatus::Queued), 2, "queued and retrying");
    assert_eq!(all.by_kind.get("alpha"), Some(&4));
    assert_eq!(all.by_kind.get("beta"), Some(&4));
    let latest = records.iter().map(|record| record.updated_at).max();
    assert_eq!(all.updated_at, latest);
    let filters = [
        TaskFilter { kinds: vec!["alpha".into()], ..TaskFilter::all() },
        TaskFilter {
            states: vec![LifecycleState::Retrying, LifecycleState::Stale],
            ..TaskFilter::all()
        },
        TaskFilter { statuses: vec![TaskStatus::Queued, TaskStatus::Failed], ..TaskFilter::all() },
        TaskFilter { channels: vec!["scope:1".into()], ..TaskFilter::all() },
        TaskFilter { dedupe_key: Some("dk-a".into()), ..TaskFilter::all() },
        TaskFilter { concurrency_key: Some("ck-z-stale".into()), ..TaskFilter::all() },
        TaskFilter { supersede_key: Some("sk".into()), ..TaskFilter::all() },
        TaskFilter { task_ids: vec![tid("z-running"), tid("z-queued")], ..TaskFilter::all() },
    ];
    for filter in filters {
        let got = store.aggregate(&filter).expect("aggregate succeeds");
        assert_eq!(got, from_list(store, &filter), "aggregate({filter:?})");
        assert!(got.total > 0, "the filter {filter:?} matches something");
    }
}

/// `aggregate`: with no task passing the filter, every count is zero and `updatedAt` is
/// absent (`null` on the wire).
pub fn aggregate_of_nothing_is_zero(store: &dyn TaskStore) {
    let empty = store.aggregate(&TaskFilter::all()).expect("aggregate succeeds");
    assert_eq!(empty, TaskAggregate::default());
    assert_eq!(empty.updated_at, None);
    put(store, task_id("work", "t1"), T0);
    let none = TaskFilter { kinds: vec!["other".into()], ..TaskFilter::all() };
    assert_eq!(store.aggregate(&none).expect("aggregate succeeds"), TaskAggregate::default());
    let one = store.aggregate(&TaskFilter::all()).expect("aggregate succeeds");
    assert_eq!((one.total, one.by_state.queued, one.updated_at), (1, 1, Some(T0)));
}
