//! Behaviours under concurrent callers: many threads claiming at once never get the same
//! task, and never break the concurrency-key or store-wide limits (`claim`: "No two callers,
//! in any thread or process, ever claim the same task under the same attempt").

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tasks_core::{ClaimRequest, EnqueueOptions, NewTask, TaskRecord, TaskStore};

use super::support::{T0, task_with};

const THREADS: usize = 8;
const TASKS: usize = 400;
const BATCH: u32 = 7;

fn enqueue_all(store: &dyn TaskStore, tasks: Vec<NewTask>) {
    for chunk in tasks.chunks(100) {
        store.enqueue_batch(chunk.to_vec(), T0).expect("batch succeeds");
    }
}

/// Runs `THREADS` threads, each claiming batches with its own runner id until a claim comes
/// back empty, then sweeps once; returns every record claimed.
fn claim_in_parallel(store: &dyn TaskStore, max_active: Option<u32>) -> Vec<TaskRecord> {
    let claimed: Vec<Vec<TaskRecord>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|n| {
                scope.spawn(move || {
                    let mut request =
                        ClaimRequest::new(format!("runner-{n}"), BATCH, Duration::from_secs(600));
                    request.max_active = max_active;
                    let mut mine = Vec::new();
                    loop {
                        let batch = store.claim(&request, T0).expect("a concurrent claim succeeds");
                        if batch.is_empty() {
                            return mine;
                        }
                        mine.extend(batch);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a claimer thread panicked"))
            .collect()
    });
    let mut claimed: Vec<TaskRecord> = claimed.into_iter().flatten().collect();
    // A store that skips rows another claimer holds locked may leave some due tasks behind when
    // that claimer then takes fewer; a last sequential sweep picks them up.
    let mut sweep = ClaimRequest::new("sweeper", 1000, Duration::from_secs(600));
    sweep.max_active = max_active;
    claimed.extend(store.claim(&sweep, T0).expect("claim succeeds"));
    claimed
}

/// `claim`: "No two callers, in any thread or process, ever claim the same task under the same
/// attempt": 8 threads claiming batches of 7 over 400 tasks claim every task exactly once.
pub fn concurrent_claims_never_share_a_task(store: &dyn TaskStore) {
    let tasks =
        (0..TASKS).map(|n| task_with("work", &format!("c{n:03}"), EnqueueOptions::new())).collect();
    enqueue_all(store, tasks);
    let claimed = claim_in_parallel(store, None);
    let mut seen = HashSet::new();
    for record in &claimed {
        assert!(seen.insert(record.id.clone()), "task {} was claimed twice", record.id);
        assert_eq!(record.attempt, 1);
    }
    assert_eq!(seen.len(), TASKS, "every task is claimed exactly once");
    let tokens: HashSet<_> = claimed.iter().filter_map(|r| r.lease_token.clone()).collect();
    assert_eq!(tokens.len(), TASKS, "every claim has its own token");
    for record in &claimed {
        let stored = super::support::fetch(store, &record.id);
        assert_eq!(stored.lease_token, record.lease_token, "the store holds the winner's lease");
        assert_eq!(stored.lease_owner, record.lease_owner);
    }
}

/// `claim` under contention: "one claimed-or-running task per `concurrencyKey`" and the
/// request's `maxActive` hold across threads claiming at once.
pub fn concurrent_claims_respect_keys_and_limits(store: &dyn TaskStore) {
    let keyed = (0..200).map(|n| {
        task_with(
            "work",
            &format!("k{n:03}"),
            EnqueueOptions::new().concurrency_key(format!("key-{}", n % 10)),
        )
    });
    enqueue_all(store, keyed.collect());
    let claimed = claim_in_parallel(store, None);
    let mut per_key: HashMap<Option<String>, usize> = HashMap::new();
    for record in &claimed {
        *per_key.entry(record.concurrency_key.clone()).or_default() += 1;
    }
    assert_eq!(claimed.len(), 10, "one task per key: {per_key:?}");
    assert!(per_key.values().all(|count| *count == 1), "one task per key: {per_key:?}");

    let free = (0..100).map(|n| task_with("free", &format!("f{n:03}"), EnqueueOptions::new()));
    enqueue_all(store, free.collect());
    let capped = claim_in_parallel(store, Some(40));
    assert_eq!(capped.len(), 30, "maxActive 40 with 10 already claimed allows 30 more");
}
