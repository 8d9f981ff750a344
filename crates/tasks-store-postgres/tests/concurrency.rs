//! Invariants the database holds under concurrency: many threads, each with its own store (its
//! own pools, as separate processes would have), racing on one dedupe key, one supersede
//! group, one queue, one concurrency key, one kind limit.

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use serde_json::json;
use tasks_core::{
    ClaimRequest, EnqueueDisposition, EnqueueOptions, KindClaim, NewTask, TaskFilter,
    TaskListQuery, TaskStatus, TaskStore, Timestamp,
};
use tasks_store_postgres::PostgresTaskStore;
use tasks_store_postgres::testing;

const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

/// `n` stores on one fresh schema (`None`: no PostgreSQL, skip).
fn stores(n: usize) -> Option<Vec<PostgresTaskStore>> {
    let options = testing::fresh_options()?;
    Some((0..n).map(|_| PostgresTaskStore::connect(options.clone()).expect("connect")).collect())
}

/// Runs `work(index, store)` on one thread per store, all released at once.
fn race<T: Send + 'static>(
    stores: &[PostgresTaskStore],
    work: impl Fn(usize, &PostgresTaskStore) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(stores.len()));
    let work = Arc::new(work);
    let handles: Vec<_> = stores
        .iter()
        .cloned()
        .enumerate()
        .map(|(index, store)| {
            let (barrier, work) = (Arc::clone(&barrier), Arc::clone(&work));
            thread::spawn(move || {
                barrier.wait();
                work(index, &store)
            })
        })
        .collect();
    handles.into_iter().map(|handle| handle.join().expect("no thread panics")).collect()
}

#[test]
fn thirty_two_threads_dedupe_one_key_into_one_task() {
    let Some(stores) = stores(32) else { return };
    let outcomes = race(&stores, |index, store| {
        let task = NewTask::new("mail", json!({ "caller": index }))
            .with_options(EnqueueOptions::new().dedupe_key("welcome:42"));
        store.enqueue(task, T0).expect("enqueue succeeds")
    });
    let ids: HashSet<_> = outcomes.iter().map(|outcome| outcome.task.id.clone()).collect();
    assert_eq!(ids.len(), 1, "every caller gets the same task");
    let created = outcomes.iter().filter(|o| o.disposition == EnqueueDisposition::Created).count();
    assert_eq!(created, 1, "exactly one caller created it");
    for outcome in outcomes.iter().filter(|o| o.disposition == EnqueueDisposition::Reused) {
        assert_eq!(outcome.reused_task_id.as_ref(), ids.iter().next());
    }
    let all = stores[0].list(&TaskListQuery::all()).expect("list");
    assert_eq!(all.len(), 1, "one task in the store");
}

#[test]
fn concurrent_supersede_leaves_exactly_the_newest_open() {
    let Some(stores) = stores(16) else { return };
    let outcomes = race(&stores, |index, store| {
        let task = NewTask::new("render", json!({ "version": index }))
            .with_options(EnqueueOptions::new().supersede("doc:7"));
        store.enqueue(task, T0).expect("enqueue succeeds")
    });
    let store = &stores[0];
    let all = store.list(&TaskListQuery::all().limit(100)).expect("list");
    assert_eq!(all.len(), 16);
    let open: Vec<_> = all.iter().filter(|task| task.status.is_open()).collect();
    assert_eq!(open.len(), 1, "exactly one open task");
    let newest = open[0];
    // Each enqueue superseded every task before it, so the open one superseded all others,
    // directly or down the chain, and none superseded it.
    let superseders: HashSet<_> =
        outcomes.iter().flat_map(|outcome| outcome.superseded_task_ids.iter().cloned()).collect();
    assert!(!superseders.contains(&newest.id), "nobody superseded the open task");
    let newest_outcome = outcomes.iter().find(|o| o.task.id == newest.id).expect("its outcome");
    assert_eq!(newest_outcome.superseded_task_ids.len(), 1, "it replaced the one open before it");
    for task in all.iter().filter(|task| task.id != newest.id) {
        assert_eq!(task.status, TaskStatus::Cancelled, "older tasks are cancelled");
    }
}

#[test]
fn concurrent_claimers_never_share_a_task() {
    let Some(stores) = stores(8) else { return };
    let tasks: Vec<NewTask> = (0..400).map(|n| NewTask::new("work", json!({ "n": n }))).collect();
    stores[0].enqueue_batch(tasks, T0).expect("enqueue");
    let claimed = race(&stores, |index, store| {
        let mut mine = Vec::new();
        loop {
            let request = ClaimRequest::new(format!("runner-{index}"), 7, Duration::from_secs(60));
            let batch = store.claim(&request, T0).expect("claim");
            if batch.is_empty() {
                return mine;
            }
            mine.extend(batch.into_iter().map(|task| task.id));
        }
    });
    let all: Vec<_> = claimed.into_iter().flatten().collect();
    let unique: HashSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), 400, "every task claimed");
    assert_eq!(unique.len(), 400, "no task claimed twice");
}

#[test]
fn concurrency_key_holds_across_claimers() {
    let Some(stores) = stores(8) else { return };
    let tasks: Vec<NewTask> = (0..40)
        .map(|n| {
            NewTask::new("sync", json!({ "n": n }))
                .with_options(EnqueueOptions::new().concurrency_key("account:1"))
        })
        .collect();
    stores[0].enqueue_batch(tasks, T0).expect("enqueue");
    let claimed = race(&stores, |index, store| {
        let request = ClaimRequest::new(format!("runner-{index}"), 5, Duration::from_secs(60));
        store.claim(&request, T0).expect("claim").len()
    });
    assert_eq!(claimed.iter().sum::<usize>(), 1, "one task per concurrency key is active");
}

#[test]
fn kind_max_active_holds_across_claimers() {
    let Some(stores) = stores(8) else { return };
    let tasks: Vec<NewTask> = (0..100).map(|n| NewTask::new("video", json!({ "n": n }))).collect();
    stores[0].enqueue_batch(tasks, T0).expect("enqueue");
    let claimed = race(&stores, |index, store| {
        let kind = KindClaim { kind: "video".into(), limit: Some(10), max_active: Some(5) };
        let request = ClaimRequest::new(format!("runner-{index}"), 10, Duration::from_secs(60))
            .kinds(vec![kind])
            .max_active(50);
        store.claim(&request, T0).expect("claim").len()
    });
    assert_eq!(claimed.iter().sum::<usize>(), 5, "the kind's maxActive holds store-wide");
    let active = stores[0]
        .aggregate(&TaskFilter { statuses: vec![TaskStatus::Claimed], ..TaskFilter::all() })
        .expect("aggregate");
    assert_eq!(active.total, 5);
}
