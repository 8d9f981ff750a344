//! Wake-ups across processes: an enqueue in one store wakes a listener of another store on
//! the same schema; progress and step writes wake nobody; a burst of enqueues is coalesced.

use std::time::{Duration, Instant};

use serde_json::json;
use tasks_core::{ClaimRequest, NewStep, NewTask, ProgressUpdate, TaskStore, Timestamp};
use tasks_store_postgres::{PostgresTaskStore, testing};

const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);
const PATIENCE: Duration = Duration::from_secs(10);

fn pair() -> Option<(PostgresTaskStore, PostgresTaskStore)> {
    let options = testing::fresh_options()?;
    let writer = PostgresTaskStore::connect(options.clone()).expect("connect");
    let listener = PostgresTaskStore::connect(options).expect("connect");
    Some((writer, listener))
}

/// Drains wake-ups until none comes for a while; returns how many arrived.
fn drain(wakeups: &tasks_store_postgres::Wakeups) -> usize {
    let mut count = 0;
    while wakeups.wait(Duration::from_secs(1)) {
        count += 1;
    }
    count
}

#[test]
fn an_enqueue_wakes_a_listener_of_another_store() {
    let Some((writer, reader)) = pair() else { return };
    assert!(writer.capabilities().notifications);
    let wakeups = reader.wakeups().expect("listen");
    let started = Instant::now();
    writer.enqueue(NewTask::new("work", json!(1)), T0).expect("enqueue");
    assert!(wakeups.wait(PATIENCE), "woken by the enqueue");
    assert!(started.elapsed() < PATIENCE);
}

#[test]
fn progress_and_steps_wake_nobody_and_bursts_are_coalesced() {
    let Some((writer, reader)) = pair() else { return };
    let wakeups = reader.wakeups().expect("listen");
    let tasks: Vec<NewTask> = (0..200).map(|n| NewTask::new("work", json!(n))).collect();
    for chunk in tasks.chunks(10) {
        writer.enqueue_batch(chunk.to_vec(), T0).expect("enqueue");
    }
    let burst = drain(&wakeups);
    assert!((1..=20).contains(&burst), "20 enqueues coalesced into a few wake-ups, got {burst}");

    let request = ClaimRequest::new("runner", 1, Duration::from_secs(60));
    let task = writer.claim(&request, T0).expect("claim").pop().expect("a task");
    let lease = task.lease().expect("lease");
    for n in 0..20 {
        writer.set_progress(&lease, &ProgressUpdate::percent(f64::from(n)), T0).expect("progress");
        writer.append_steps(&lease, &[NewStep::info(format!("step {n}"))], T0).expect("steps");
    }
    assert_eq!(drain(&wakeups), 0, "progress and steps send no notification");
}
