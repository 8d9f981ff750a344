//! In-process concurrency: many threads sharing one store (writes queue on the store's writer
//! lock, so none ever sees SQLITE_BUSY, even with a zero busy timeout), and several stores on
//! one file (as separate processes would be), whose change feed stays in commit order.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tasks_core::{
    ChangeKind, ClaimRequest, EnqueueOptions, NewStep, NewTask, TaskError, TaskFilter,
    TaskListQuery, TaskStore, Timestamp,
};
use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};

const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_000);
const LEASE: Duration = Duration::from_secs(3600);

#[test]
fn threads_sharing_a_store_never_see_busy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = SqliteOptions::new(dir.path().join("tasks.db")).busy_timeout(Duration::ZERO);
    let store = Arc::new(SqliteTaskStore::open(options).expect("open"));
    let workers: Vec<_> = (0..6)
        .map(|worker| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let runner = format!("runner-{worker}");
                for round in 0..150u32 {
                    let key = format!("key-{}", round % 5);
                    let options = EnqueueOptions::new().concurrency_key(key).channel("scope:t");
                    let task = NewTask::new("work", json!({"w": worker, "r": round}));
                    store.enqueue(task.with_options(options), NOW).expect("enqueue");
                    let request = ClaimRequest::new(runner.as_str(), 3, LEASE);
                    for record in store.claim(&request, NOW).expect("claim") {
                        let lease = record.lease().expect("a lease");
                        store.append_steps(&lease, &[NewStep::info("step")], NOW).expect("step");
                        if round % 4 == 0 {
                            store.fail(&lease, TaskError::new("no"), None, NOW).expect("fail");
                        } else {
                            store.complete(&lease, json!(round), NOW).expect("complete");
                        }
                    }
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for _ in 0..100 {
                    store.list(&TaskListQuery::all()).expect("list");
                    store.aggregate(&TaskFilter::all()).expect("aggregate");
                    store.read_changes(None, 100).expect("read changes");
                }
            })
        })
        .collect();
    for thread in workers.into_iter().chain(readers) {
        thread.join().expect("no thread failed");
    }
    // Drain what is left, one key at a time, and check every task finished exactly once.
    loop {
        let claimed = store.claim(&ClaimRequest::new("drain", 100, LEASE), NOW).expect("claim");
        if claimed.is_empty() {
            break;
        }
        for record in claimed {
            store.complete(&record.lease().expect("a lease"), json!(null), NOW).expect("complete");
        }
    }
    let aggregate = store.aggregate(&TaskFilter::all()).expect("aggregate");
    assert_eq!(aggregate.total, 6 * 150);
    assert_eq!(aggregate.by_status.succeeded + aggregate.by_status.failed, 6 * 150);
}

#[test]
fn stores_sharing_a_file_keep_one_commit_ordered_feed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    let stores: Vec<Arc<SqliteTaskStore>> = (0..3)
        .map(|_| Arc::new(SqliteTaskStore::open(SqliteOptions::new(&path)).expect("open")))
        .collect();
    let start = stores[0].change_cursor().expect("cursor");
    let writers: Vec<_> = stores
        .iter()
        .map(|store| {
            let store = Arc::clone(store);
            std::thread::spawn(move || {
                for n in 0..100 {
                    store.enqueue(NewTask::new("work", json!(n)), NOW).expect("enqueue");
                }
            })
        })
        .collect();
    // A reader follows the feed while the writers run: it must see each change once, in order.
    let mut seen = Vec::new();
    let mut cursor = start;
    let mut done = false;
    while !done {
        done = writers.iter().all(std::thread::JoinHandle::is_finished);
        loop {
            let page = stores[1].read_changes(Some(&cursor), 37).expect("read");
            if page.changes.is_empty() {
                break;
            }
            seen.extend(page.changes);
            cursor = page.next;
        }
    }
    for writer in writers {
        writer.join().expect("no writer failed");
    }
    assert_eq!(seen.len(), 300, "every change once");
    let positions: Vec<u64> =
        seen.iter().map(|change| change.cursor.as_str().parse().expect("numeric")).collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "in commit order");
    let ids: HashSet<_> = seen.iter().map(|change| change.task_id.clone()).collect();
    assert_eq!(ids.len(), 300);
    assert!(seen.iter().all(|change| change.kind == ChangeKind::Updated && change.revision == 1));
}
