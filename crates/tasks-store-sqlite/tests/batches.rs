//! Batched worker writes are one transaction each: a reader, in this process or on another
//! store opened on the same file (as another process would), sees a `start_batch` or a
//! `finish_batch` whole or not at all, and never a part of one. The property is checked on
//! every read, whatever the interleaving, so a correct store cannot fail it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use tasks_core::{ClaimRequest, Finish, NewTask, TaskFilter, TaskStore, Timestamp};
use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};

const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_000);
const LEASE: Duration = Duration::from_secs(3600);
const BATCH: usize = 16;
const BATCHES: usize = 40;

#[test]
fn readers_never_see_part_of_a_batch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    let store = Arc::new(SqliteTaskStore::open(SqliteOptions::new(&path)).expect("open"));
    let tasks: Vec<NewTask> =
        (0..BATCH * BATCHES).map(|n| NewTask::new("work", json!({ "n": n }))).collect();
    store.enqueue_batch(tasks, NOW).expect("enqueue");
    let other = Arc::new(SqliteTaskStore::open(SqliteOptions::new(&path)).expect("reopen"));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = [Arc::clone(&store), other]
        .into_iter()
        .map(|reader| {
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut reads = 0u32;
                // At least a few reads, however fast the writer is.
                while !done.load(Ordering::Acquire) || reads < 5 {
                    let counts = reader.aggregate(&TaskFilter::all()).expect("aggregate").by_status;
                    // Claims, starts and finishes each move whole batches of BATCH tasks.
                    for (status, count) in
                        [("claimed", counts.claimed), ("running", counts.running)]
                            .into_iter()
                            .chain([("succeeded", counts.succeeded), ("failed", counts.failed)])
                    {
                        assert_eq!(count % BATCH as u64, 0, "{count} {status}: part of a batch");
                    }
                    reads += 1;
                }
            })
        })
        .collect();
    let request = ClaimRequest::new("runner", BATCH as u32, LEASE);
    for round in 0..BATCHES {
        let claimed = store.claim(&request, NOW).expect("claim");
        assert_eq!(claimed.len(), BATCH);
        let leases: Vec<_> = claimed.iter().map(|r| r.lease().expect("a lease")).collect();
        let started = store.start_batch(&leases, NOW).expect("start_batch");
        assert!(started.iter().all(Result::is_ok), "every start applies");
        let finishes: Vec<Finish> = leases
            .into_iter()
            .map(|lease| match round % 2 {
                0 => Finish::Complete { lease, output: json!({ "round": round }) },
                _ => {
                    Finish::Fail { lease, error: tasks_core::TaskError::new("no"), retry_at: None }
                }
            })
            .collect();
        let finished = store.finish_batch(&finishes, NOW).expect("finish_batch");
        assert!(finished.iter().all(Result::is_ok), "every finish applies");
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        reader.join().expect("a reader saw no part of a batch");
    }
    let counts = store.aggregate(&TaskFilter::all()).expect("aggregate").by_status;
    assert_eq!(
        (counts.succeeded, counts.failed),
        ((BATCH * BATCHES / 2) as u64, (BATCH * BATCHES / 2) as u64)
    );
}
