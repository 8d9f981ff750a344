//! Behaviours of `enqueue` and `enqueue_batch` when nothing is deduplicated or superseded: the
//! record a new task gets, caller-chosen ids, schedules, round-tripping values at the input
//! limits, and the sequential, all-or-nothing batch.

use std::time::Duration;

use serde_json::json;
use tasks_core::enqueue::DEFAULT_MAX_ATTEMPTS;
use tasks_core::limits::{MAX_CHANNEL_LEN, MAX_KEY_LEN, MAX_KIND_LEN};
use tasks_core::{
    EnqueueDisposition, EnqueueOptions, JsonObject, NewTask, StoreErrorKind, TaskStatus, TaskStore,
};

use super::support::{
    T0, assert_kind, assert_unchanged, at_s, fetch, picture, put, task, task_id, task_with, tid,
};

/// `enqueue`: "Otherwise a queued task is created with revision 1 (disposition `created`)",
/// with the fields core's `NewTask::into_record` gives it.
pub fn enqueue_creates_queued_task(store: &dyn TaskStore) {
    let options = EnqueueOptions::new().channel(" scope:a ").channel("scope:b").priority(7);
    let outcome = store
        .enqueue(NewTask::new("report.generate", json!({"id": 42})).with_options(options), T0)
        .expect("enqueue succeeds");
    assert_eq!(outcome.disposition, EnqueueDisposition::Created);
    assert_eq!((outcome.reused_task_id.as_ref(), outcome.deduplicated), (None, false));
    assert!(outcome.superseded_task_ids.is_empty());
    let record = &outcome.task;
    assert_eq!(record.kind, "report.generate");
    assert_eq!(record.status, TaskStatus::Queued);
    assert_eq!(record.input, json!({"id": 42}));
    assert_eq!((record.revision, record.attempt), (1, 0));
    assert_eq!(record.max_attempts, DEFAULT_MAX_ATTEMPTS);
    assert_eq!(record.priority, 7);
    assert_eq!(record.channels, vec!["scope:a", "scope:b"], "channels are normalized");
    assert_eq!((record.created_at, record.updated_at, record.scheduled_at), (T0, T0, T0));
    assert_eq!(record.last_step_seq, 0);
    assert!(record.lease_token.is_none() && record.claimed_at.is_none());
    assert_eq!(record.id.as_str().len(), 26, "a generated id is a ULID");
    assert_eq!(&fetch(store, &record.id), record, "get returns what enqueue returned");
}

/// `enqueue`: a caller-chosen id is kept; and "A caller-chosen id that already exists gives
/// `InvalidInput::DuplicateId`" and stores nothing.
pub fn enqueue_keeps_caller_id_and_refuses_duplicate(store: &dyn TaskStore) {
    let first = put(store, task_id("work", "t1"), T0);
    assert_eq!(first.id, tid("t1"));
    let before = picture(store);
    assert_kind(store.enqueue(task_id("work", "t1"), at_s(1)), StoreErrorKind::InvalidInput);
    assert_kind(store.enqueue(task_id("other", "t1"), at_s(1)), StoreErrorKind::InvalidInput);
    assert_unchanged(store, &before, "an enqueue with an existing id");
}

/// `enqueue`: the schedule is `scheduledAt`, or `now` plus the delay, or `now`; an instant in
/// the past means now (core's `NewTask::into_record`).
pub fn enqueue_applies_schedule(store: &dyn TaskStore) {
    let delayed = put(
        store,
        task_with("work", "delayed", EnqueueOptions::new().delay(Duration::from_secs(90))),
        T0,
    );
    assert_eq!(delayed.scheduled_at, at_s(90));
    let later =
        put(store, task_with("work", "later", EnqueueOptions::new().scheduled_at(at_s(3600))), T0);
    assert_eq!(later.scheduled_at, at_s(3600));
    let past =
        put(store, task_with("work", "past", EnqueueOptions::new().scheduled_at(at_s(-60))), T0);
    assert_eq!(past.scheduled_at, T0, "a past schedule is due now");
    for id in ["delayed", "later", "past"] {
        let stored = fetch(store, &tid(id));
        assert_eq!(stored.status, TaskStatus::Queued);
        assert_eq!(stored.created_at, T0);
    }
}

/// `enqueue`: every field survives the store unchanged, including values at the input limits
/// (longest id, kind, keys and channel; unicode keys; nested input, metadata, big numbers).
pub fn enqueue_round_trips_values_at_limits(store: &dyn TaskStore) {
    let id = format!("{}{}", "Az09_-.:", "x".repeat(128 - 8));
    let kind = format!("{}{}", "a/b:c.d-e_F9", "k".repeat(MAX_KIND_LEN - 12));
    // 19 bytes of multi-byte text after the tag, padded to exactly the longest key.
    let key = |tag: &str| format!("{tag}-clé-ключ-🔑{}", "k".repeat(MAX_KEY_LEN - 19 - tag.len()));
    assert_eq!(key("c").len(), MAX_KEY_LEN);
    let channel = format!("scope:{}", "c".repeat(MAX_CHANNEL_LEN - 6));
    let mut metadata = JsonObject::new();
    metadata.insert("owner".into(), json!("ü-ß 😀"));
    metadata.insert("tags".into(), json!(["a", "b", {"c": null}]));
    let options = EnqueueOptions::new()
        .id(tid(&id))
        .metadata(metadata)
        .concurrency_key(key("c"))
        .dedupe_key(key("d"))
        .supersede_key(key("s"))
        .channel(channel.clone())
        .max_attempts(1000)
        .priority(i32::MIN)
        .scheduled_at(at_s(10));
    let input = json!({
        "big": u64::MAX, "neg": i64::MIN, "float": 0.1, "text": "line\nbreak \"quoted\" \\ \t",
        "nested": {"a": [1, 2.5, null, true, {"b": []}]}, "empty": {}
    });
    let outcome =
        store.enqueue(NewTask::new(kind.clone(), input.clone()).with_options(options), T0);
    let created = outcome.expect("values at the limits are accepted").task;
    assert_eq!(created.id.as_str(), id);
    assert_eq!(created.kind, kind);
    assert_eq!(created.input, input);
    assert_eq!(created.dedupe_key.as_deref(), Some(key("d").as_str()));
    assert_eq!(created.channels, vec![channel]);
    assert_eq!((created.max_attempts, created.priority), (1000, i32::MIN));
    assert_eq!(fetch(store, &created.id), created, "the stored record equals the returned one");
}

/// `enqueue`: JSON text holding NUL characters (valid JSON that core accepts) is stored and
/// read back as given, never refused by the backend nor altered.
pub fn enqueue_round_trips_nul_in_json(store: &dyn TaskStore) {
    let input = json!({"text": "before\u{0}after", "key\u{0}": [1]});
    let created = put(store, NewTask::new("work", input.clone()), T0);
    assert_eq!(created.input, input);
    assert_eq!(fetch(store, &created.id).input, input, "NUL characters survive the store");
}

/// `enqueue_batch`: "Each task is enqueued as by `enqueue`, seeing the ones before it (a
/// second task with the same dedupe key as the first reuses it)".
pub fn enqueue_batch_is_sequential(store: &dyn TaskStore) {
    let deduped = |id: &str| task_with("work", id, EnqueueOptions::new().dedupe_key("same"));
    let batch = vec![deduped("b1"), deduped("b2"), task_id("work", "b3"), task_id("other", "b4")];
    let outcomes = store.enqueue_batch(batch, T0).expect("the batch is valid");
    let dispositions: Vec<_> = outcomes.iter().map(|outcome| outcome.disposition).collect();
    use EnqueueDisposition::{Created, Reused};
    assert_eq!(dispositions, vec![Created, Reused, Created, Created]);
    assert_eq!(outcomes[1].task.id, tid("b1"), "the second reuses the first");
    assert_eq!(outcomes[1].reused_task_id, Some(tid("b1")));
    assert_eq!(store.get(&tid("b2")).expect("get succeeds"), None, "a reused caller id is ignored");
    let list = store.list(&tasks_core::TaskListQuery::all()).expect("list succeeds");
    assert_eq!(list.len(), 3);
    let superseding = |id: &str| task_with("scan", id, EnqueueOptions::new().supersede("s"));
    let outcomes = store
        .enqueue_batch(vec![superseding("s1"), superseding("s2")], at_s(1))
        .expect("the batch is valid");
    assert_eq!(outcomes[0].disposition, Created);
    assert_eq!(outcomes[1].disposition, EnqueueDisposition::Superseded, "s2 sees s1");
    assert_eq!(outcomes[1].superseded_task_ids, vec![tid("s1")]);
    assert_eq!(fetch(store, &tid("s1")).status, TaskStatus::Cancelled);
    assert!(store.enqueue_batch(Vec::new(), T0).expect("an empty batch is fine").is_empty());
}

/// `enqueue_batch`: "All or nothing: one invalid task refuses the batch and stores none of
/// it", including a caller id repeated inside the batch.
pub fn enqueue_batch_is_all_or_nothing(store: &dyn TaskStore) {
    put(store, task_with("work", "existing", EnqueueOptions::new().supersede_key("s")), T0);
    let before = picture(store);
    let bad_kind = vec![task_id("work", "n1"), task_id("work", "n2"), task("")];
    assert_kind(store.enqueue_batch(bad_kind, at_s(1)), StoreErrorKind::InvalidInput);
    let repeated = vec![task_id("work", "n1"), task_id("work", "n1")];
    assert_kind(store.enqueue_batch(repeated, at_s(1)), StoreErrorKind::InvalidInput);
    let existing = vec![task_id("work", "n1"), task_id("work", "existing")];
    assert_kind(store.enqueue_batch(existing, at_s(1)), StoreErrorKind::InvalidInput);
    let superseding = vec![
        task_with("work", "n1", EnqueueOptions::new().supersede("s")),
        NewTask::new("work", json!(null)).with_options(EnqueueOptions::new().max_attempts(0)),
    ];
    assert_kind(store.enqueue_batch(superseding, at_s(1)), StoreErrorKind::InvalidInput);
    assert_unchanged(store, &before, "a refused batch");
}
