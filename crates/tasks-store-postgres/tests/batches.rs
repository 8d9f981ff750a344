//! The batched writes on PostgreSQL, beyond the conformance suite: the one-statement path of
//! completions, the general path for a lease given twice, batches over the same tasks from
//! two processes at once, and an operator's retry racing an enqueue for its dedupe key.

mod support;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use serde_json::json;
use tasks_core::{
    ClaimRequest, EnqueueDisposition, EnqueueOptions, Finish, Lease, LeaseToken, NewTask,
    StoreError, StoreErrorKind, TaskError, TaskListQuery, TaskRecord, TaskStatus, TaskStore,
    Timestamp, TransitionRefusal,
};
use tasks_store_postgres::PostgresTaskStore;
use tasks_store_postgres::testing;

const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

fn at_s(seconds: i64) -> Timestamp {
    Timestamp::from_millis(T0.as_millis() + seconds * 1000)
}

/// Enqueues `n` tasks and claims them all; returns their leases in claim order.
fn claimed(store: &PostgresTaskStore, n: u32) -> Vec<Lease> {
    let tasks: Vec<NewTask> = (0..n).map(|i| NewTask::new("work", json!(i))).collect();
    store.enqueue_batch(tasks, T0).expect("enqueue");
    let request = ClaimRequest::new("r", n, Duration::from_secs(600));
    let claimed = store.claim(&request, T0).expect("claim");
    assert_eq!(claimed.len(), n as usize);
    claimed.iter().map(|task| task.lease().expect("a claimed task has a lease")).collect()
}

fn complete(lease: &Lease, output: serde_json::Value) -> Finish {
    Finish::Complete { lease: lease.clone(), output }
}

fn kinds(results: &[Result<TaskRecord, StoreError>]) -> Vec<Result<TaskStatus, StoreErrorKind>> {
    results.iter().map(|r| r.as_ref().map(|t| t.status).map_err(StoreError::kind)).collect()
}

#[test]
fn completions_of_distinct_tasks_match_single_completes() {
    let Some(fixture) = support::store() else { return };
    let store = &fixture.store;
    let leases = claimed(store, 4);
    let mut stale = leases[1].clone();
    stale.token = LeaseToken::from_stored("not-the-token".to_owned());
    let mut deep = json!(1);
    for _ in 0..100 {
        deep = json!([deep]);
    }
    let results = store
        .finish_batch(
            &[
                complete(&leases[0], json!("a")),
                complete(&stale, json!("b")),
                complete(&leases[2], deep),
                complete(&leases[3], json!("d")),
            ],
            at_s(1),
        )
        .expect("the store answers");
    assert_eq!(
        kinds(&results),
        vec![
            Ok(TaskStatus::Succeeded),
            Err(StoreErrorKind::LeaseLost),
            Err(StoreErrorKind::InvalidInput),
            Ok(TaskStatus::Succeeded),
        ]
    );
    let first = results[0].as_ref().expect("completed");
    assert_eq!(
        (first.output.clone(), first.revision, first.finished_at),
        (Some(json!("a")), 3, Some(at_s(1)))
    );
    assert_eq!(&store.get(&first.id).expect("get").expect("exists"), first);
    // The refused items are untouched, and give what the single call gives afterwards.
    for lease in [&leases[1], &leases[2]] {
        let untouched = store.get(&lease.task_id).expect("get").expect("exists");
        assert_eq!((untouched.status, untouched.revision), (TaskStatus::Claimed, 2));
        let single = store.complete(lease, json!("late"), at_s(1)).expect("complete");
        assert_eq!(single.revision, first.revision);
    }
}

#[test]
fn a_lease_given_twice_is_answered_in_input_order() {
    let Some(fixture) = support::store() else { return };
    let store = &fixture.store;
    let leases = claimed(store, 2);
    let mut forged = leases[1].clone();
    forged.token = LeaseToken::from_stored("forged".to_owned());
    let results = store
        .finish_batch(
            &[
                complete(&leases[0], json!(1)),
                complete(&leases[0], json!(2)),
                complete(&forged, json!(3)),
                Finish::Fail {
                    lease: leases[1].clone(),
                    error: TaskError::new("x"),
                    retry_at: Some(at_s(5)),
                },
                complete(&leases[1], json!(4)),
            ],
            at_s(1),
        )
        .expect("the store answers");
    assert_eq!(
        kinds(&results),
        vec![
            Ok(TaskStatus::Succeeded),
            Err(StoreErrorKind::LeaseLost),
            Err(StoreErrorKind::LeaseLost),
            Ok(TaskStatus::Queued),
            Err(StoreErrorKind::LeaseLost),
        ]
    );
    let first = store.get(&leases[0].task_id).expect("get").expect("exists");
    assert_eq!((first.output, first.revision), (Some(json!(1)), 3), "the first item won");

    let leases = claimed(store, 1);
    let started = store
        .start_batch(&[leases[0].clone(), leases[0].clone()], at_s(2))
        .expect("the store answers");
    assert_eq!(started[0].as_ref().expect("started").status, TaskStatus::Running);
    match &started[1] {
        Err(StoreError::Refused {
            refusal: TransitionRefusal::WrongStatus { status, .. }, ..
        }) => {
            assert_eq!(*status, TaskStatus::Running);
        }
        other => panic!("a second start is refused as running, got {other:?}"),
    }
}

#[test]
fn a_start_batch_of_distinct_tasks_answers_each_as_start_would() {
    let Some(fixture) = support::store() else { return };
    let store = &fixture.store;
    let leases = claimed(store, 4);
    store.start(&leases[1], at_s(1)).expect("already running");
    let mut forged = leases[2].clone();
    forged.token = LeaseToken::from_stored("forged".to_owned());
    let missing = Lease {
        task_id: tasks_core::TaskId::new("missing").expect("an id"),
        token: LeaseToken::from_stored("x".to_owned()),
    };
    let batch = [leases[0].clone(), leases[1].clone(), forged, missing, leases[3].clone()];
    let results = store.start_batch(&batch, at_s(2)).expect("the store answers");
    assert_eq!(
        kinds(&results),
        vec![
            Ok(TaskStatus::Running),
            Err(StoreErrorKind::Refused),
            Err(StoreErrorKind::LeaseLost),
            Err(StoreErrorKind::LeaseLost),
            Ok(TaskStatus::Running),
        ]
    );
    match &results[1] {
        Err(StoreError::Refused {
            refusal: TransitionRefusal::WrongStatus { operation, status },
            ..
        }) => {
            assert_eq!((*operation, *status), ("start", TaskStatus::Running));
        }
        other => panic!("a running task refuses a start, got {other:?}"),
    }
    let started = results[0].as_ref().expect("started");
    assert_eq!((started.started_at, started.revision), (Some(at_s(2)), 3));
    assert_eq!(&store.get(&started.id).expect("get").expect("exists"), started);
    let untouched = store.get(&leases[2].task_id).expect("get").expect("exists");
    assert_eq!((untouched.status, untouched.revision), (TaskStatus::Claimed, 2));
    // An expired lease is lost, as for `start`.
    let late = claimed(store, 1);
    let results = store.start_batch(&late, at_s(700)).expect("the store answers");
    assert_eq!(kinds(&results), vec![Err(StoreErrorKind::LeaseLost)]);
}

#[test]
fn a_finish_batch_mixing_outcomes_writes_them_together() {
    let Some(fixture) = support::store() else { return };
    let store = &fixture.store;
    let leases = claimed(store, 4);
    let mut stale = leases[2].clone();
    stale.token = LeaseToken::from_stored("stale".to_owned());
    let cursor = store.change_cursor().expect("cursor");
    let results = store
        .finish_batch(
            &[
                complete(&leases[0], json!("done")),
                Finish::Fail {
                    lease: leases[1].clone(),
                    error: TaskError::new("x"),
                    retry_at: Some(at_s(30)),
                },
                complete(&stale, json!("late")),
                Finish::AcknowledgeCancel { lease: leases[3].clone(), reason: None },
            ],
            at_s(1),
        )
        .expect("the store answers");
    assert_eq!(
        kinds(&results),
        vec![
            Ok(TaskStatus::Succeeded),
            Ok(TaskStatus::Queued),
            Err(StoreErrorKind::LeaseLost),
            Ok(TaskStatus::Cancelled),
        ]
    );
    for result in results.iter().flatten() {
        assert_eq!(&store.get(&result.id).expect("get").expect("exists"), result);
    }
    let page = store.read_changes(Some(&cursor), 100).expect("read_changes");
    let mut logged: Vec<_> = page.changes.iter().map(|c| (c.task_id.clone(), c.revision)).collect();
    logged.sort();
    let mut expected: Vec<_> =
        results.iter().flatten().map(|t| (t.id.clone(), t.revision)).collect();
    expected.sort();
    assert_eq!(logged, expected, "one change per finished task");
}

/// Two stores (two processes' pools) finish the same 300 tasks at once, in opposite orders,
/// through both paths: every task ends exactly once, and neither batch fails.
#[test]
fn overlapping_batches_end_each_task_once() {
    let Some(options) = testing::fresh_options() else { return };
    let stores: Vec<PostgresTaskStore> =
        (0..2).map(|_| PostgresTaskStore::connect(options.clone()).expect("connect")).collect();
    for general in [false, true] {
        let leases = Arc::new(claimed(&stores[0], 300));
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = stores
            .iter()
            .cloned()
            .enumerate()
            .map(|(index, store)| {
                let (leases, barrier) = (Arc::clone(&leases), Arc::clone(&barrier));
                thread::spawn(move || {
                    let mut finishes: Vec<Finish> = leases
                        .iter()
                        .map(|lease| {
                            if general {
                                Finish::Fail {
                                    lease: lease.clone(),
                                    error: TaskError::new("x"),
                                    retry_at: None,
                                }
                            } else {
                                complete(lease, json!(index))
                            }
                        })
                        .collect();
                    if index == 1 {
                        finishes.reverse();
                    }
                    barrier.wait();
                    store.finish_batch(&finishes, at_s(1)).expect("neither batch fails")
                })
            })
            .collect();
        let results: Vec<Vec<Result<TaskRecord, StoreError>>> =
            handles.into_iter().map(|handle| handle.join().expect("no panic")).collect();
        let ended: usize = results.iter().flatten().filter(|result| result.is_ok()).count();
        assert_eq!(ended, 300, "each task ends once (general path: {general})");
        for result in results.iter().flatten() {
            if let Err(err) = result {
                assert_eq!(err.kind(), StoreErrorKind::LeaseLost, "the loser lost the lease");
            }
        }
        let open = stores[0]
            .list(&TaskListQuery::all().limit(1000))
            .expect("list")
            .into_iter()
            .filter(|task| task.status.is_open())
            .count();
        assert_eq!(open, 0);
    }
}

/// An operator retries a failed task while a caller enqueues a task with its dedupe key: one
/// of them wins, and one open task holds the key.
#[test]
fn a_retry_racing_an_enqueue_leaves_one_open_task_per_key() {
    let Some(options) = testing::fresh_options() else { return };
    let stores: Vec<PostgresTaskStore> =
        (0..2).map(|_| PostgresTaskStore::connect(options.clone()).expect("connect")).collect();
    for round in 0..10 {
        let key = format!("report:{round}");
        let keyed = || {
            NewTask::new("report", json!(round))
                .with_options(EnqueueOptions::new().dedupe_key(key.clone()))
        };
        let store = &stores[0];
        store.enqueue(keyed(), T0).expect("enqueue");
        let task = store
            .claim(&ClaimRequest::new("r", 1, Duration::from_secs(60)), T0)
            .expect("claim")
            .remove(0);
        let lease = task.lease().expect("lease");
        store.fail(&lease, TaskError::new("bad"), None, T0).expect("fail");

        let barrier = Arc::new(Barrier::new(2));
        let retrier = {
            let (store, barrier, id) = (stores[0].clone(), Arc::clone(&barrier), task.id.clone());
            thread::spawn(move || {
                barrier.wait();
                store.retry(&id, at_s(1))
            })
        };
        let enqueuer = {
            let (store, barrier, task) = (stores[1].clone(), Arc::clone(&barrier), keyed());
            thread::spawn(move || {
                barrier.wait();
                store.enqueue(task, at_s(1))
            })
        };
        let retried = retrier.join().expect("no panic");
        let enqueued = enqueuer.join().expect("no panic").expect("enqueue succeeds");
        match &retried {
            Ok(record) => {
                assert_eq!(record.status, TaskStatus::Queued);
                assert_eq!(enqueued.disposition, EnqueueDisposition::Reused, "round {round}");
                assert_eq!(enqueued.task.id, task.id, "the enqueue found the retried task");
            }
            Err(StoreError::Refused {
                refusal: TransitionRefusal::DedupeKeyHeld { holder, .. },
                ..
            }) => {
                assert_eq!(enqueued.disposition, EnqueueDisposition::Created, "round {round}");
                assert_eq!(holder, &enqueued.task.id);
            }
            Err(other) => panic!("round {round}: unexpected {other:?}"),
        }
        let open = store
            .list(&TaskListQuery::all().limit(1000))
            .expect("list")
            .into_iter()
            .filter(|other| {
                other.dedupe_key.as_deref() == Some(key.as_str()) && other.status.is_open()
            })
            .count();
        assert_eq!(open, 1, "round {round}: one open task holds the key");
    }
}
