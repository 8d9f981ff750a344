//! Hub queries by every filter field (task ids, statuses, dedupe, concurrency and supersede
//! keys), with `includeAggregate`, `limit` and `recentSteps`: each subscriber gets the tasks its query names,
//! in its bootstrap and live, and ends equal to a fresh read.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;
use tasks_core::{
    EnqueueDisposition, EnqueueOptions, NewStep, NewTask, SubscriptionQuery, TaskFilter, TaskId,
    TaskLiveMessage, TaskStatus, TaskStore, TaskSubscriptionBootstrap,
};

use support::{
    Recorder, assert_converged, blocking, claim_and_start, enqueue, now, quiet_hub, runtime,
};

fn add(store: &dyn TaskStore, kind: &str, options: EnqueueOptions) -> tasks_core::EnqueueOutcome {
    store.enqueue(NewTask::new(kind, json!({})).with_options(options), now()).expect("enqueue")
}

fn query(filter: TaskFilter) -> SubscriptionQuery {
    SubscriptionQuery { filter, ..SubscriptionQuery::default() }
}

fn ids(recorder: &Recorder) -> BTreeSet<TaskId> {
    recorder.state().snapshots.into_iter().map(|snapshot| snapshot.task_id).collect()
}

fn bootstrap_of(recorder: &Recorder) -> TaskSubscriptionBootstrap {
    match recorder.messages().into_iter().next() {
        Some(TaskLiveMessage::Bootstrap(bootstrap)) => bootstrap,
        other => panic!("a bootstrap first, got {other:?}"),
    }
}

#[test]
fn ids_statuses_and_keys_each_select_their_tasks() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    runtime().block_on(async {
        let s = Arc::clone(&store);
        let (a, b, c) = blocking(move || {
            let a = add(&*s, "a", EnqueueOptions::new().dedupe_key("d1").concurrency_key("c1"));
            let b = add(&*s, "b", EnqueueOptions::new().supersede_key("s1"));
            let c = add(&*s, "a", EnqueueOptions::new());
            (a.task.id, b.task.id, c.task.id)
        })
        .await;
        let hub = quiet_hub(&store);
        let queries = [
            (
                "ids",
                query(TaskFilter { task_ids: vec![a.clone(), c.clone()], ..TaskFilter::all() }),
            ),
            (
                "statuses",
                query(TaskFilter { statuses: vec![TaskStatus::Running], ..TaskFilter::all() }),
            ),
            ("dedupe", query(TaskFilter { dedupe_key: Some("d1".into()), ..TaskFilter::all() })),
            (
                "concurrency",
                query(TaskFilter { concurrency_key: Some("c1".into()), ..TaskFilter::all() }),
            ),
            (
                "supersede",
                query(TaskFilter { supersede_key: Some("s1".into()), ..TaskFilter::all() }),
            ),
        ];
        let mut subscribers = Vec::new();
        for (name, query) in &queries {
            let recorder = Recorder::new();
            let subscription =
                hub.subscribe(query.clone(), recorder.listener()).await.expect("subscribe");
            subscribers.push((*name, query.clone(), recorder, subscription));
        }

        // Live: a duplicate of `a` (reused), a task superseding `b`, one more on `a`'s
        // concurrency key, then every claimable task runs.
        let s = Arc::clone(&store);
        let (d, b2) = blocking(move || {
            let again = add(&*s, "a", EnqueueOptions::new().dedupe_key("d1"));
            assert_eq!(again.disposition, EnqueueDisposition::Reused);
            let b2 = add(&*s, "b", EnqueueOptions::new().supersede("s1"));
            assert_eq!(b2.disposition, EnqueueDisposition::Superseded);
            let d = add(&*s, "a", EnqueueOptions::new().concurrency_key("c1"));
            enqueue(&*s, "other", "scope:z", 2);
            claim_and_start(&*s, "r1");
            (d.task.id, b2.task.id)
        })
        .await;
        hub.catch_up().await.expect("caught up");

        let expected = |name: &str| -> BTreeSet<TaskId> {
            match name {
                "ids" => [a.clone(), c.clone()].into(),
                "dedupe" => [a.clone()].into(),
                "concurrency" => [a.clone(), d.clone()].into(),
                "supersede" => [b.clone(), b2.clone()].into(),
                _ => BTreeSet::new(),
            }
        };
        for (name, query, recorder, _subscription) in &subscribers {
            let fresh = {
                let (store, query) = (Arc::clone(&store), query.clone());
                blocking(move || support::fresh(&*store, &query)).await
            };
            assert_converged(&recorder.state(), &fresh, name);
            if *name == "statuses" {
                // `a` or `d` holds the concurrency key; the others are all free to run.
                let held = recorder.state();
                assert!(held.snapshots.iter().all(|s| s.status == TaskStatus::Running));
                assert_eq!(held.snapshots.len(), 5, "c, b2, one of a and d, two others");
            } else {
                assert_eq!(ids(recorder), expected(name), "{name}");
            }
        }
        let supersede = &subscribers[4].2;
        let superseded = supersede.state().snapshots.into_iter().find(|s| s.task_id == b);
        assert_eq!(superseded.map(|s| s.status), Some(TaskStatus::Cancelled));
    });
}

#[test]
fn include_aggregate_false_leaves_the_aggregate_out_of_the_bootstrap() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    enqueue(&*store, "render", "scope:a", 3);
    runtime().block_on(async {
        let hub = quiet_hub(&store);
        let (with, without) = (Recorder::new(), Recorder::new());
        let none =
            SubscriptionQuery { include_aggregate: Some(false), ..SubscriptionQuery::default() };
        let _with =
            hub.subscribe(SubscriptionQuery::default(), with.listener()).await.expect("sub");
        let _without = hub.subscribe(none, without.listener()).await.expect("sub");
        assert_eq!(bootstrap_of(&with).aggregate.map(|aggregate| aggregate.total), Some(3));
        assert_eq!(bootstrap_of(&without).aggregate, None, "left out when asked");
        // The tracker counts what it holds either way.
        assert_eq!(without.state().aggregate.total, 3);
        assert_eq!(without.state().aggregate, with.state().aggregate);
    });
}

#[test]
fn recent_steps_bounds_the_steps_of_each_task_in_the_bootstrap() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    enqueue(&*store, "render", "scope:a", 1);
    let lease = claim_and_start(&*store, "r1").remove(0);
    let steps: Vec<NewStep> = (1..=5).map(|n| NewStep::info(format!("step {n}"))).collect();
    store.append_steps(&lease, &steps, now()).expect("steps");
    runtime().block_on(async {
        let hub = quiet_hub(&store);
        let (two, none) = (Recorder::new(), Recorder::new());
        let last_two = SubscriptionQuery { recent_steps: Some(2), ..SubscriptionQuery::default() };
        let no_steps = SubscriptionQuery { recent_steps: Some(0), ..SubscriptionQuery::default() };
        let _two = hub.subscribe(last_two, two.listener()).await.expect("sub");
        let _none = hub.subscribe(no_steps, none.listener()).await.expect("sub");
        let sent = bootstrap_of(&two).steps.remove(lease.task_id.as_str()).unwrap_or_default();
        let seqs: Vec<u64> = sent.iter().map(|step| step.seq).collect();
        assert_eq!(seqs, vec![4, 5], "the most recent two, oldest first");
        let none_sent = bootstrap_of(&none).steps.values().map(Vec::len).sum::<usize>();
        assert_eq!(none_sent, 0, "recentSteps 0 sends no steps");
    });
}

#[test]
fn limit_bounds_the_bootstrap_and_live_updates_add_tasks() {
    let store: Arc<dyn TaskStore> = Arc::new(tasks_testkit::MemoryStore::new());
    enqueue(&*store, "render", "scope:a", 5);
    runtime().block_on(async {
        let hub = quiet_hub(&store);
        let recorder = Recorder::new();
        let query = SubscriptionQuery { limit: Some(2), ..SubscriptionQuery::default() };
        let _sub = hub.subscribe(query, recorder.listener()).await.expect("sub");
        let bootstrap = bootstrap_of(&recorder);
        assert_eq!(bootstrap.snapshots.len(), 2, "at most `limit` snapshots");
        assert_eq!(bootstrap.aggregate.map(|a| a.total), Some(5), "the aggregate counts them all");
        let s = Arc::clone(&store);
        blocking(move || {
            enqueue(&*s, "render", "scope:a", 1);
            claim_and_start(&*s, "r1");
        })
        .await;
        hub.catch_up().await.expect("caught up");
        // `limit` bounds the bootstrap only: every task that changes afterwards is told.
        assert_eq!(recorder.state().snapshots.len(), 6);
        assert!(recorder.state().snapshots.iter().all(|s| s.status == TaskStatus::Running));
    });
}
