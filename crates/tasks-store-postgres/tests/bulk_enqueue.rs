//! Bulk enqueue on PostgreSQL: plain tasks go in one lean insert (their shared values sent
//! once, empty channel lists left to the column's default); every field must still land as
//! core made it, whatever the batch mixes.

mod support;

use std::time::Duration;

use serde_json::json;
use tasks_core::{EnqueueOptions, NewTask, TaskStore, Timestamp};

const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

#[test]
fn a_mixed_batch_stores_every_task_as_core_made_it() {
    let Some(fixture) = support::store() else { return };
    let store = &fixture.store;
    let mut metadata = serde_json::Map::new();
    metadata.insert("tenant".to_owned(), json!("acme"));
    let batches = [
        // Empty channel lists only: the lean insert without channels.
        vec![NewTask::new("a", json!(1)), NewTask::new("a", json!({"deep": [1, 2]}))],
        // Channels, metadata, keys, delays and priorities mixed.
        vec![
            NewTask::new("b", json!("x")).with_options(EnqueueOptions::new().channel("room:1")),
            NewTask::new("b", json!(null)),
            NewTask::new("c", json!([true]))
                .with_options(EnqueueOptions::new().metadata(metadata).priority(7)),
            NewTask::new("c", json!(2)).with_options(
                EnqueueOptions::new()
                    .concurrency_key("k")
                    .max_attempts(5)
                    .delay(Duration::from_secs(30)),
            ),
        ],
        // A dedupe key among plain tasks: inserts before and after it.
        vec![
            NewTask::new("d", json!(1)),
            NewTask::new("d", json!(2)).with_options(EnqueueOptions::new().dedupe_key("once")),
            NewTask::new("d", json!(3)).with_options(EnqueueOptions::new().channel("room:2")),
        ],
    ];
    for batch in batches {
        for outcome in store.enqueue_batch(batch, T0).expect("enqueue") {
            let stored = store.get(&outcome.task.id).expect("get").expect("stored");
            assert_eq!(stored, outcome.task, "the store holds the task as core made it");
        }
    }
}
