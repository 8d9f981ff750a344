//! Refused enqueues: every way a new task can be wrong, each refused with the
//! [`InvalidInput`] naming the problem, alone and inside an otherwise good batch.

use serde_json::{Value, json};
use tasks_core::limits::{
    MAX_CHANNELS, MAX_JSON_DEPTH, MAX_KEY_LEN, MAX_KIND_LEN, MAX_PAYLOAD_BYTES,
};
use tasks_core::{
    EnqueueOptions, InvalidInput, JsonObject, NewTask, StoreError, TaskId, TaskStore, Timestamp,
};

use super::refused;
use crate::Violation;

/// A refused task: a name, the task, and whether a refusal is the one it must get.
type Case = (String, NewTask, fn(&InvalidInput) -> bool);

/// The refused tasks. `huge` is the size of the
/// largest input tried (its validation reads it whole once, which a debug build does slowly).
fn cases(huge: usize) -> Vec<Case> {
    let task = |kind: &str, input: Value| NewTask::new(kind, input);
    let with =
        |options: EnqueueOptions| NewTask::new("bad.options", json!({})).with_options(options);
    let mut metadata = JsonObject::new();
    metadata.insert("deep".into(), nested(MAX_JSON_DEPTH + 1));
    let mut big_metadata = JsonObject::new();
    big_metadata.insert("blob".into(), json!("m".repeat(70 * 1024)));
    vec![
        (
            "input one byte over 1 MiB".into(),
            task("bad.input", json!("x".repeat(MAX_PAYLOAD_BYTES - 1))),
            |e| matches!(e, InvalidInput::TooLarge { field: "input", .. }),
        ),
        (format!("input of {} MiB", huge >> 20), task("bad.input", json!("y".repeat(huge))), |e| {
            matches!(e, InvalidInput::TooLarge { field: "input", .. })
        }),
        (
            "input of 300,000 small numbers".into(),
            task("bad.input", Value::Array(vec![json!(12345); 300_000])),
            |e| matches!(e, InvalidInput::TooLarge { field: "input", .. }),
        ),
        ("input nested 65 deep".into(), task("bad.input", nested(MAX_JSON_DEPTH + 1)), |e| {
            matches!(e, InvalidInput::TooDeep { field: "input", .. })
        }),
        ("input nested 20,000 deep".into(), task("bad.input", nested(20_000)), |e| {
            matches!(e, InvalidInput::TooDeep { field: "input", .. })
        }),
        ("metadata nested 65 deep".into(), with(EnqueueOptions::new().metadata(metadata)), |e| {
            matches!(e, InvalidInput::TooDeep { field: "metadata", .. })
        }),
        ("metadata of 70 KiB".into(), with(EnqueueOptions::new().metadata(big_metadata)), |e| {
            matches!(e, InvalidInput::TooLarge { field: "metadata", .. })
        }),
        ("33 channels".into(), with(channels(MAX_CHANNELS + 1)), |e| {
            matches!(e, InvalidInput::TooManyChannels { .. })
        }),
        ("100,000 channels".into(), with(channels(100_000)), |e| {
            matches!(e, InvalidInput::TooManyChannels { .. })
        }),
        ("a 257-byte channel".into(), with(EnqueueOptions::new().channel("c".repeat(257))), |e| {
            matches!(e, InvalidInput::Channel { .. })
        }),
        (
            "a channel with a newline".into(),
            with(EnqueueOptions::new().channel("scope:a\nb")),
            |e| matches!(e, InvalidInput::Channel { .. }),
        ),
        ("an empty channel".into(), with(EnqueueOptions::new().channel("   ")), |e| {
            matches!(e, InvalidInput::Channel { .. })
        }),
        ("an empty kind".into(), task("", json!({})), |e| matches!(e, InvalidInput::Kind { .. })),
        ("a 129-byte kind".into(), task(&"k".repeat(MAX_KIND_LEN + 1), json!({})), |e| {
            matches!(e, InvalidInput::Kind { .. })
        }),
        ("a kind with SQL in it".into(), task("x'; DROP TABLE tasks; --", json!({})), |e| {
            matches!(e, InvalidInput::Kind { .. })
        }),
        ("a kind with a NUL".into(), task("kind\0nul", json!({})), |e| {
            matches!(e, InvalidInput::Kind { .. })
        }),
        ("a kind in Cyrillic".into(), task("задача", json!({})), |e| {
            matches!(e, InvalidInput::Kind { .. })
        }),
        ("a kind with a space".into(), task("send email", json!({})), |e| {
            matches!(e, InvalidInput::Kind { .. })
        }),
        (
            "a 513-byte dedupe key".into(),
            with(EnqueueOptions::new().dedupe_key("d".repeat(MAX_KEY_LEN + 1))),
            |e| matches!(e, InvalidInput::Key { field: "dedupeKey", .. }),
        ),
        ("a dedupe key with a NUL".into(), with(EnqueueOptions::new().dedupe_key("a\0b")), |e| {
            matches!(e, InvalidInput::Key { .. })
        }),
        ("an empty concurrency key".into(), with(EnqueueOptions::new().concurrency_key("")), |e| {
            matches!(e, InvalidInput::Key { .. })
        }),
        (
            "a supersede key with control characters".into(),
            with(EnqueueOptions::new().supersede("\u{1b}[2J")),
            |e| matches!(e, InvalidInput::Key { .. }),
        ),
        ("supersedeExisting without a key".into(), with(supersede_without_key()), |e| {
            matches!(e, InvalidInput::SupersedeWithoutKey)
        }),
        ("zero attempts".into(), with(EnqueueOptions::new().max_attempts(0)), |e| {
            matches!(e, InvalidInput::Range { .. })
        }),
        ("a million attempts".into(), with(EnqueueOptions::new().max_attempts(1_000_000)), |e| {
            matches!(e, InvalidInput::Range { .. })
        }),
        (
            "both scheduledAt and delay".into(),
            with(
                EnqueueOptions::new()
                    .scheduled_at(Timestamp::now_utc())
                    .delay(std::time::Duration::from_secs(1)),
            ),
            |e| matches!(e, InvalidInput::ScheduleConflict),
        ),
    ]
}

/// `[[[…1…]]]`, `depth` levels deep, built without recursion.
pub(super) fn nested(depth: usize) -> Value {
    let mut value = json!(1);
    for _ in 1..depth {
        value = Value::Array(vec![value]);
    }
    value
}

fn channels(count: usize) -> EnqueueOptions {
    let mut options = EnqueueOptions::new();
    options.channels = (0..count).map(|n| format!("scope:{n}")).collect();
    options
}

fn supersede_without_key() -> EnqueueOptions {
    let mut options = EnqueueOptions::new();
    options.supersede_existing = true;
    options
}

/// Runs every case alone and in a batch of good tasks, plus duplicate ids and JSON that does
/// not even parse; returns how many refusals were checked.
pub(super) fn check(store: &dyn TaskStore, quick: bool) -> Result<u32, Violation> {
    let mut tally = 0;
    let huge = if quick { 4 << 20 } else { 64 << 20 };
    for (what, task, right) in cases(huge) {
        let alone = store.enqueue(task.clone(), Timestamp::now_utc());
        refused(&mut tally, &what, alone, |error| is_invalid(error, right))?;
        let batch =
            vec![NewTask::new("good.first", json!({})), task, NewTask::new("good.last", json!({}))];
        let batched = store.enqueue_batch(batch, Timestamp::now_utc());
        refused(&mut tally, &format!("{what}, in a batch"), batched, |error| {
            is_invalid(error, right)
        })?;
    }
    // A caller-chosen id that exists (the seeded tasks are the only ones; take one), and the
    // same new id twice in one batch.
    let existing = store.list(&tasks_core::TaskListQuery::all().limit(1))?;
    if let Some(record) = existing.first() {
        let options = EnqueueOptions::new().id(record.id.clone());
        let again = store
            .enqueue(NewTask::new("dup.id", json!({})).with_options(options), Timestamp::now_utc());
        refused(&mut tally, "an id that exists", again, |error| {
            is_invalid(error, |e| matches!(e, InvalidInput::DuplicateId { .. }))
        })?;
    }
    let id = TaskId::new("gauntlet-duplicate-in-batch").map_err(|e| Violation(e.to_string()))?;
    let twice = vec![
        NewTask::new("dup.id", json!({})).with_options(EnqueueOptions::new().id(id.clone())),
        NewTask::new("dup.id", json!({})).with_options(EnqueueOptions::new().id(id)),
    ];
    refused(
        &mut tally,
        "one id twice in a batch",
        store.enqueue_batch(twice, Timestamp::now_utc()),
        |error| is_invalid(error, |e| matches!(e, InvalidInput::DuplicateId { .. })),
    )?;
    // Input that never becomes a task: text a caller would decode first.
    for (what, text) in [
        ("JSON nested a million deep", "[".repeat(1_000_000) + &"]".repeat(1_000_000)),
        ("options with an invalid id", r#"{"id":"has space"}"#.to_owned()),
        ("options with a channel list of numbers", r#"{"channels":[1,2,3]}"#.to_owned()),
    ] {
        let decoded = if what.starts_with("JSON") {
            serde_json::from_str::<Value>(&text).map(|_| ())
        } else {
            serde_json::from_str::<EnqueueOptions>(&text).map(|_| ())
        };
        if decoded.is_ok() {
            return Err(Violation(format!("{what}: decoded without complaint")));
        }
        tally += 1;
    }
    Ok(tally)
}

fn is_invalid(error: &StoreError, right: fn(&InvalidInput) -> bool) -> bool {
    matches!(error, StoreError::InvalidInput(invalid) if right(invalid))
}
