//! `complete_many`, the batched finish: each completion as `complete` would do it, one
//! result per entry in order, nothing written for an invalid output.

mod support;

use std::time::Duration;

use serde_json::json;
use tasks_core::{
    ClaimRequest, LeaseToken, NewTask, StoreErrorKind, TaskStatus, TaskStore, Timestamp,
};

const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

#[test]
fn completes_each_as_complete_would() {
    let Some(fixture) = support::store() else { return };
    let store = &fixture.store;
    let tasks: Vec<NewTask> = (0..3).map(|n| NewTask::new("work", json!(n))).collect();
    store.enqueue_batch(tasks, T0).expect("enqueue");
    let claimed =
        store.claim(&ClaimRequest::new("r", 3, Duration::from_secs(60)), T0).expect("claim");
    let leases: Vec<_> = claimed.iter().map(|task| task.lease().expect("lease")).collect();
    let mut stale = leases[1].clone();
    stale.token = LeaseToken::from_stored("not-the-token".to_owned());
    let later = Timestamp::from_millis(T0.as_millis() + 1000);
    let results = store
        .complete_many(
            &[
                (leases[0].clone(), json!("a")),
                (stale, json!("b")),
                (leases[2].clone(), json!("c")),
                (leases[0].clone(), json!("again")),
            ],
            later,
        )
        .expect("the store answers");
    assert_eq!(results.len(), 4);
    let first = results[0].as_ref().expect("completed");
    assert_eq!(
        (first.status, first.output.clone(), first.revision),
        (TaskStatus::Succeeded, Some(json!("a")), 3)
    );
    assert_eq!(first.finished_at, Some(later));
    assert_eq!(results[1].as_ref().expect_err("wrong token").kind(), StoreErrorKind::LeaseLost);
    assert_eq!(results[2].as_ref().expect("completed").output, Some(json!("c")));
    assert_eq!(results[3].as_ref().expect_err("listed twice").kind(), StoreErrorKind::LeaseLost);
    let untouched = store.get(&leases[1].task_id).expect("get").expect("exists");
    assert_eq!(untouched.status, TaskStatus::Claimed);
    // Same record as the one-by-one path would give.
    let single = store.complete(&leases[1], json!("b"), later).expect("complete");
    assert_eq!(single.revision, 3);
}

#[test]
fn an_invalid_output_writes_nothing() {
    let Some(fixture) = support::store() else { return };
    let store = &fixture.store;
    store.enqueue(NewTask::new("work", json!(1)), T0).expect("enqueue");
    let task = store
        .claim(&ClaimRequest::new("r", 1, Duration::from_secs(60)), T0)
        .expect("claim")
        .remove(0);
    let lease = task.lease().expect("lease");
    let mut deep = json!(1);
    for _ in 0..100 {
        deep = json!([deep]);
    }
    let err = store.complete_many(&[(lease.clone(), deep)], T0).expect_err("too deep");
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput);
    assert_eq!(
        store.get(&lease.task_id).expect("get").expect("exists").status,
        TaskStatus::Claimed
    );
}
