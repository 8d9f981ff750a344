//! Behaviours of `finish_and_claim`: the final writes answer as `finish_batch` answers them,
//! and the claim that follows sees them written (a concurrency key they free is claimable, a
//! retry due now is claimed again); an invalid request writes nothing.

use serde_json::json;
use tasks_core::{
    ClaimRequest, EnqueueOptions, Finish, StoreErrorKind, TaskError, TaskId, TaskStatus, TaskStore,
};

use super::support::{
    T0, assert_kind, assert_unchanged, at_s, fetch, forged_lease, lease, picture, put, request,
    task_id, task_with, tid,
};

/// `finish_and_claim`: "`finished` holds exactly what `finish_batch(finishes, now)` would
/// return, and `claimed` exactly what `claim_and_start(request, now)` would return right after
/// it": completions and a stale lease answered per item, then a claim that takes the task
/// whose concurrency key a completion freed.
pub fn finish_and_claim_finishes_first_then_claims(store: &dyn TaskStore) {
    let keyed = |id: &str| task_with("work", id, EnqueueOptions::new().concurrency_key("k"));
    put(store, keyed("a"), T0);
    put(store, keyed("b"), T0);
    put(store, task_id("work", "c"), T0);
    put(store, task_id("work", "d"), T0);
    let first = store.claim_and_start(&request(2), at_s(1)).expect("claimed");
    let held: Vec<_> =
        first.into_iter().map(|item| item.started.expect("each task started")).collect();
    let held_ids: Vec<&TaskId> = held.iter().map(|record| &record.id).collect();
    assert_eq!(held_ids, [&tid("a"), &tid("c")], "b waits for its key");
    // A lease on a queued task that was never issued: refused, and the task stays claimable.
    let stale = forged_lease(&fetch(store, &tid("d")));
    let finishes = vec![
        Finish::Complete { lease: lease(&held[0]), output: json!({"n": 1}) },
        Finish::Complete { lease: stale, output: json!({"n": 2}) },
        Finish::Complete { lease: lease(&held[1]), output: json!({"n": 3}) },
    ];
    let answer = store.finish_and_claim(&finishes, &request(5), at_s(2)).expect("written");
    assert_eq!(answer.finished.len(), 3, "one answer per final write");
    let kinds: Vec<Result<TaskStatus, StoreErrorKind>> = answer
        .finished
        .iter()
        .map(|result| result.as_ref().map(|record| record.status).map_err(|err| err.kind()))
        .collect();
    assert_eq!(
        kinds,
        [Ok(TaskStatus::Succeeded), Err(StoreErrorKind::LeaseLost), Ok(TaskStatus::Succeeded)],
        "each write answered on its own, in input order"
    );
    let claimed = answer.claimed.expect("the claim succeeded");
    let ids: Vec<&TaskId> = claimed.iter().map(|item| &item.claimed.id).collect();
    assert_eq!(ids, [&tid("b"), &tid("d")], "a's completion freed key k for b, in claim order");
    for item in &claimed {
        let started = item.started.as_ref().expect("each claimed task started");
        assert_eq!(&fetch(store, &started.id), started, "the store holds the started task");
    }
    assert_eq!(fetch(store, &tid("a")).status, TaskStatus::Succeeded);
    assert_eq!(fetch(store, &tid("c")).output, Some(json!({"n": 3})), "the live lease's output");
}

/// `finish_and_claim`: a failure with a retry due now puts its task back in the queue before
/// the claim, which takes it again as its next attempt; with nothing to finish it is a claim.
pub fn finish_and_claim_takes_a_retry_due_now(store: &dyn TaskStore) {
    put(store, task_id("work", "a"), T0);
    let first = store.claim_and_start(&request(1), at_s(1)).expect("claimed");
    let running = first.into_iter().next().expect("a claimed").started.expect("a started");
    let finishes = vec![Finish::Fail {
        lease: lease(&running),
        error: TaskError::new("flaky"),
        retry_at: Some(at_s(2)),
    }];
    let answer = store.finish_and_claim(&finishes, &request(1), at_s(2)).expect("written");
    let failed = answer.finished[0].as_ref().expect("the failure is written");
    assert_eq!((failed.status, failed.attempt), (TaskStatus::Queued, 1), "queued for a retry");
    let claimed = answer.claimed.expect("the claim succeeded");
    assert_eq!(claimed.len(), 1, "the retry due now is claimed again");
    let again = claimed[0].started.as_ref().expect("started");
    assert_eq!((&again.id, again.attempt), (&tid("a"), 2), "as its second attempt");
    let answer = store.finish_and_claim(&[], &request(1), at_s(3)).expect("an empty claim");
    assert!(answer.finished.is_empty());
    assert!(answer.claimed.expect("the claim succeeded").is_empty(), "nothing else is queued");
}

/// `finish_and_claim`: "An invalid request is refused with the outer `Err` before anything is
/// written": the final writes are not made either.
pub fn finish_and_claim_refuses_an_invalid_request_writing_nothing(store: &dyn TaskStore) {
    put(store, task_id("work", "a"), T0);
    let first = store.claim_and_start(&request(1), at_s(1)).expect("claimed");
    let running = first.into_iter().next().expect("a claimed").started.expect("a started");
    let before = picture(store);
    let finishes = vec![Finish::Complete { lease: lease(&running), output: json!(null) }];
    let bad = ClaimRequest::new("runner", 0, std::time::Duration::from_secs(60));
    assert_kind(store.finish_and_claim(&finishes, &bad, at_s(2)), StoreErrorKind::InvalidInput);
    assert_unchanged(store, &before, "a finish_and_claim with an invalid request");
}
