//! Behaviours on bad input: every refusal is a typed error (`StoreErrorKind::InvalidInput` or
//! `NotFound`) and leaves the store exactly as it was (tasks, steps and aggregate compared
//! before and after). `enqueue`: "bad input gives `StoreError::InvalidInput` and stores
//! nothing".

use serde_json::json;
use tasks_core::limits::{
    MAX_CHANNEL_LEN, MAX_CHANNELS, MAX_JSON_DEPTH, MAX_KEY_LEN, MAX_KIND_LEN, MAX_META_BYTES,
    MAX_PAYLOAD_BYTES, MAX_TEXT_LEN,
};
use tasks_core::{
    EnqueueOptions, JsonObject, NewTask, StepQuery, StoreErrorKind, TaskError, TaskId, TaskStore,
};

use super::support::{
    assert_kind, assert_unchanged, at_s, lease, picture, some_tasks, task, task_with, tid,
};

/// Enqueues each task alone and in a batch after a valid one; each must be refused with
/// `InvalidInput` and the store left unchanged.
#[track_caller]
fn refuse_all(store: &dyn TaskStore, cases: Vec<(&str, NewTask)>) {
    some_tasks(store);
    let before = picture(store);
    for (case, new) in cases {
        match store.enqueue(new.clone(), at_s(10)) {
            Ok(outcome) => panic!("{case}: accepted as {:?}", outcome.disposition),
            Err(err) => assert_eq!(err.kind(), StoreErrorKind::InvalidInput, "{case}"),
        }
        let batch = vec![task_with("work", "fine", EnqueueOptions::new()), new];
        match store.enqueue_batch(batch, at_s(10)) {
            Ok(_) => panic!("{case}: accepted in a batch"),
            Err(err) => assert_eq!(err.kind(), StoreErrorKind::InvalidInput, "{case} in a batch"),
        }
        assert_unchanged(store, &before, case);
    }
}

fn nested(depth: usize) -> serde_json::Value {
    let mut value = json!(1);
    for _ in 1..depth {
        value = json!([value]);
    }
    value
}

/// `enqueue`: "Validates the task first (kind ...)": an empty kind, one with a space or
/// another character outside `A-Z a-z 0-9 _ - . : /`, or one over 128 bytes is refused.
pub fn enqueue_refuses_invalid_kind(store: &dyn TaskStore) {
    refuse_all(
        store,
        vec![
            ("empty kind", task("")),
            ("kind with a space", task("has space")),
            ("kind with unicode", task("tâche")),
            ("kind too long", task(&"k".repeat(MAX_KIND_LEN + 1))),
        ],
    );
}

/// `enqueue`: "Validates ... input size and depth": an input over 1 MiB, metadata over
/// 64 KiB, or a document nested deeper than 64 levels is refused. (Depth 64 exactly passes.)
pub fn enqueue_refuses_oversized_or_deep_input(store: &dyn TaskStore) {
    let big = json!("x".repeat(MAX_PAYLOAD_BYTES));
    let mut meta = JsonObject::new();
    meta.insert("blob".into(), json!("m".repeat(MAX_META_BYTES)));
    let mut deep_meta = JsonObject::new();
    deep_meta.insert("deep".into(), nested(MAX_JSON_DEPTH + 1));
    refuse_all(
        store,
        vec![
            ("input over 1 MiB", NewTask::new("work", big)),
            ("input nested too deep", NewTask::new("work", nested(MAX_JSON_DEPTH + 1))),
            (
                "metadata over 64 KiB",
                task("work").with_options(EnqueueOptions::new().metadata(meta)),
            ),
            (
                "metadata too deep",
                task("work").with_options(EnqueueOptions::new().metadata(deep_meta)),
            ),
        ],
    );
    let deepest = NewTask::new("work", nested(MAX_JSON_DEPTH));
    let stored = store.enqueue(deepest, at_s(11)).expect("depth 64 is accepted").task;
    assert_eq!(stored.input, nested(MAX_JSON_DEPTH));
}

/// `enqueue`: "Validates ... channels": an empty channel, one holding whitespace or a control
/// character, one over 256 bytes, and more than 32 channels are refused.
pub fn enqueue_refuses_invalid_channels(store: &dyn TaskStore) {
    let with_channels = |channels: Vec<String>| {
        let mut options = EnqueueOptions::new();
        options.channels = channels;
        task("work").with_options(options)
    };
    let many: Vec<String> = (0..=MAX_CHANNELS).map(|n| format!("scope:{n}")).collect();
    refuse_all(
        store,
        vec![
            ("empty channel", with_channels(vec!["  ".into()])),
            ("channel with a space", with_channels(vec!["scope:a b".into()])),
            ("channel with a control character", with_channels(vec!["scope:\u{7}".into()])),
            ("channel too long", with_channels(vec!["c".repeat(MAX_CHANNEL_LEN + 1)])),
            ("too many channels", with_channels(many)),
        ],
    );
}

/// `enqueue`: "Validates ... keys, ... attempts, schedule": empty, oversized or control-char
/// keys, `maxAttempts` of 0 or over 1000, both `scheduledAt` and a delay, and
/// `supersedeExisting` without a key are refused.
pub fn enqueue_refuses_invalid_options(store: &dyn TaskStore) {
    let with = |options: EnqueueOptions| task("work").with_options(options);
    let both = EnqueueOptions::new().scheduled_at(at_s(5)).delay(std::time::Duration::from_secs(5));
    let mut no_key = EnqueueOptions::new();
    no_key.supersede_existing = true;
    refuse_all(
        store,
        vec![
            ("empty dedupe key", with(EnqueueOptions::new().dedupe_key(""))),
            (
                "long concurrency key",
                with(EnqueueOptions::new().concurrency_key("k".repeat(MAX_KEY_LEN + 1))),
            ),
            ("control char in supersede key", with(EnqueueOptions::new().supersede_key("a\nb"))),
            ("zero attempts", with(EnqueueOptions::new().max_attempts(0))),
            ("too many attempts", with(EnqueueOptions::new().max_attempts(1001))),
            ("schedule and delay", with(both)),
            ("supersede without key", with(no_key)),
        ],
    );
}

/// `enqueue`: "A caller-chosen id that already exists gives `InvalidInput::DuplicateId`"
/// (alone and in a batch, where a dedupe reuse does not count), and a malformed caller id
/// cannot even be built: `TaskId` refuses it, in code and in JSON, before any store sees it.
pub fn enqueue_refuses_duplicate_or_malformed_caller_id(store: &dyn TaskStore) {
    refuse_all(
        store,
        vec![
            ("an existing running id", task_with("work", "busy", EnqueueOptions::new())),
            ("an existing queued id", task_with("other", "waiting", EnqueueOptions::new())),
        ],
    );
    for bad in ["", "has space", "slash/id", &"i".repeat(129)] {
        assert!(TaskId::new(bad).is_err(), "{bad:?} is not a valid id");
        let wire = json!({"kind": "work", "input": null, "options": {"id": bad}});
        assert!(serde_json::from_value::<NewTask>(wire).is_err(), "{bad:?} in JSON");
    }
}

/// `get`: "`Ok(None)` when no task has that id"; `cancel`: "an unknown id
/// `StoreError::NotFound`"; `list_steps`: "An unknown task gives `StoreError::NotFound`".
/// None of them changes anything.
pub fn unknown_ids_are_not_found(store: &dyn TaskStore) {
    some_tasks(store);
    let before = picture(store);
    let missing = tid("no-such-task");
    assert_eq!(store.get(&missing).expect("get succeeds"), None);
    assert_kind(store.cancel(&missing, None, at_s(10)), StoreErrorKind::NotFound);
    assert_kind(store.cancel(&missing, Some("reason"), at_s(10)), StoreErrorKind::NotFound);
    assert_kind(store.list_steps(&missing, &StepQuery::default()), StoreErrorKind::NotFound);
    assert_kind(store.list_steps(&missing, &StepQuery::recent(5)), StoreErrorKind::NotFound);
    assert_unchanged(store, &before, "a call on an unknown id");
}

/// `complete`: "An oversized output gives `StoreError::InvalidInput`"; `fail` refuses an error
/// whose message or details are over the limits (`transition::validate_error`). Nothing
/// changes, and the lease still works afterwards.
pub fn worker_writes_refuse_oversized_output_or_error(store: &dyn TaskStore) {
    let busy = some_tasks(store);
    let before = picture(store);
    let lease = lease(&busy);
    let now = at_s(1);
    let huge = json!("o".repeat(MAX_PAYLOAD_BYTES));
    assert_kind(store.complete(&lease, huge, now), StoreErrorKind::InvalidInput);
    assert_kind(
        store.complete(&lease, nested(MAX_JSON_DEPTH + 1), now),
        StoreErrorKind::InvalidInput,
    );
    let long_message = TaskError::new("e".repeat(MAX_TEXT_LEN + 1));
    assert_kind(store.fail(&lease, long_message, None, now), StoreErrorKind::InvalidInput);
    let big_details = TaskError::new("boom").with_details(json!("d".repeat(MAX_META_BYTES)));
    assert_kind(store.fail(&lease, big_details, Some(now), now), StoreErrorKind::InvalidInput);
    assert_unchanged(store, &before, "a refused worker write");
    store.complete(&lease, json!({"ok": true}), now).expect("the lease still holds");
}
