//! Input validation, which runs before any transition or store write: `NewTask::into_record`,
//! the `validate_*` functions of the transition module, `ClaimRequest::validate`,
//! `TaskFilter::normalized` and `Backoff::validate`. Each refusal is checked by its variant.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tasks_core::limits::{
    MAX_CHANNELS, MAX_JSON_DEPTH, MAX_KEY_LEN, MAX_META_BYTES, MAX_PAGE_LIMIT, MAX_PAYLOAD_BYTES,
    MAX_TEXT_LEN,
};
use tasks_core::transition::{validate_error, validate_output, validate_progress, validate_step};
use tasks_core::{
    Backoff, ClaimRequest, EnqueueOptions, InvalidInput, KindClaim, LifecycleState, NewStep,
    NewTask, ProgressUpdate, StepKind, StepLevel, TaskError, TaskFilter, TaskId, TaskStatus,
};

fn nested(depth: usize) -> serde_json::Value {
    let mut value = json!(1);
    for _ in 1..depth {
        value = json!([value]);
    }
    value
}

fn big_string(bytes: usize) -> serde_json::Value {
    json!("x".repeat(bytes))
}

fn into_record(options: EnqueueOptions) -> Result<tasks_core::TaskRecord, InvalidInput> {
    NewTask::new(KIND, json!({})).with_options(options).into_record(T0)
}

#[test]
fn new_task_builds_a_queued_record_with_defaults() {
    let id = TaskId::new("report:rpt_42").expect("valid id");
    let options = EnqueueOptions::new()
        .id(id.clone())
        .metadata(object(json!({"by": "alice"})))
        .concurrency_key("report:rpt_42")
        .dedupe_key("dedupe")
        .supersede("scan")
        .channel(" scope:a ")
        .channel("scope:a")
        .priority(-3);
    let record = into_record(options).expect("valid");
    assert_eq!(record.id, id);
    assert_eq!(record.status, TaskStatus::Queued);
    assert_eq!(LifecycleState::of(&record), LifecycleState::Queued);
    assert_eq!(record.channels, vec!["scope:a"], "channels are trimmed and deduplicated");
    assert_eq!((record.attempt, record.max_attempts, record.priority), (0, 3, -3));
    assert_eq!((record.revision, record.last_step_seq), (1, 0));
    assert_eq!((record.created_at, record.updated_at, record.scheduled_at), (T0, T0, T0));
    assert_eq!(record.supersede_key.as_deref(), Some("scan"));
    assert_eq!(record.metadata, Some(object(json!({"by": "alice"}))));
    assert!(record.lease_token.is_none() && record.error.is_none());
}

#[test]
fn new_task_schedules_by_delay_or_instant_and_never_in_the_past() {
    let delayed =
        into_record(EnqueueOptions::new().delay(Duration::from_millis(1500))).expect("valid");
    assert_eq!(delayed.scheduled_at, at(1500));
    let later = into_record(EnqueueOptions::new().scheduled_at(at_secs(60))).expect("valid");
    assert_eq!(later.scheduled_at, at_secs(60));
    let past = into_record(EnqueueOptions::new().scheduled_at(at_secs(-60))).expect("valid");
    assert_eq!(past.scheduled_at, T0, "a past instant means now");
    let generated = into_record(EnqueueOptions::new()).expect("valid");
    assert_eq!(generated.id.as_str().len(), 26, "a ULID when no id is given");
}

#[test]
fn new_task_refuses_a_bad_kind() {
    for kind in ["", "has space", "é", &"k".repeat(129)] {
        let result = NewTask::new(kind, json!({})).into_record(T0);
        assert!(matches!(result, Err(InvalidInput::Kind { .. })), "{kind:?}: {result:?}");
    }
}

#[test]
fn new_task_refuses_oversized_or_deep_input_and_metadata() {
    let result = NewTask::new(KIND, big_string(MAX_PAYLOAD_BYTES)).into_record(T0);
    assert!(matches!(result, Err(InvalidInput::TooLarge { field: "input", .. })), "{result:?}");
    let result = NewTask::new(KIND, nested(MAX_JSON_DEPTH + 1)).into_record(T0);
    assert!(matches!(result, Err(InvalidInput::TooDeep { field: "input", .. })), "{result:?}");
    assert!(NewTask::new(KIND, nested(MAX_JSON_DEPTH)).into_record(T0).is_ok());

    let huge = object(json!({"blob": "x".repeat(MAX_META_BYTES)}));
    let result = into_record(EnqueueOptions::new().metadata(huge));
    assert!(matches!(result, Err(InvalidInput::TooLarge { field: "metadata", .. })), "{result:?}");
    let deep = object(json!({"deep": nested(MAX_JSON_DEPTH + 1)}));
    let result = into_record(EnqueueOptions::new().metadata(deep));
    assert!(matches!(result, Err(InvalidInput::TooDeep { field: "metadata", .. })), "{result:?}");
}

#[test]
fn new_task_refuses_bad_keys_naming_the_field() {
    let long = "k".repeat(MAX_KEY_LEN + 1);
    for bad in ["", long.as_str(), "tab\there"] {
        let cases = [
            ("concurrencyKey", EnqueueOptions::new().concurrency_key(bad)),
            ("dedupeKey", EnqueueOptions::new().dedupe_key(bad)),
            ("supersedeKey", EnqueueOptions::new().supersede_key(bad)),
        ];
        for (field, options) in cases {
            let result = into_record(options);
            assert!(
                matches!(result, Err(InvalidInput::Key { field: f, .. }) if f == field),
                "{field} {bad:?}: {result:?}"
            );
        }
    }
}

#[test]
fn new_task_refuses_bad_channels() {
    for bad in ["", "  ", "has space", "nul\u{0}"] {
        let result = into_record(EnqueueOptions::new().channel(bad));
        assert!(matches!(result, Err(InvalidInput::Channel { .. })), "{bad:?}: {result:?}");
    }
    let mut many = EnqueueOptions::new();
    for i in 0..=MAX_CHANNELS {
        many = many.channel(format!("c{i}"));
    }
    let result = into_record(many);
    assert!(matches!(result, Err(InvalidInput::TooManyChannels { .. })), "{result:?}");
}

#[test]
fn new_task_refuses_inconsistent_options() {
    let mut no_key = EnqueueOptions::new();
    no_key.supersede_existing = true;
    assert_eq!(into_record(no_key), Err(InvalidInput::SupersedeWithoutKey));
    let both = EnqueueOptions::new().delay(Duration::from_secs(1)).scheduled_at(at_secs(5));
    assert_eq!(into_record(both), Err(InvalidInput::ScheduleConflict));
    for attempts in [0, 1001] {
        let result = into_record(EnqueueOptions::new().max_attempts(attempts));
        assert!(
            matches!(result, Err(InvalidInput::Range { field: "maxAttempts", .. })),
            "{attempts}: {result:?}"
        );
    }
    for attempts in [1, 1000] {
        assert!(into_record(EnqueueOptions::new().max_attempts(attempts)).is_ok());
    }
}

#[test]
fn progress_updates_are_validated() {
    assert_eq!(validate_progress(&ProgressUpdate::default()), Ok(()));
    assert_eq!(validate_progress(&ProgressUpdate::percent(0.0).label("")), Ok(()));
    for percent in [-1.0, 100.1, f64::NAN, f64::NEG_INFINITY] {
        let result = validate_progress(&ProgressUpdate::percent(percent));
        assert!(matches!(result, Err(InvalidInput::Percent { .. })), "{percent}");
    }
    let long = ProgressUpdate::default().label("l".repeat(MAX_TEXT_LEN + 1));
    assert!(matches!(validate_progress(&long), Err(InvalidInput::Text { field: "label", .. })));
    let huge = ProgressUpdate::default().meta(object(json!({"x": "x".repeat(MAX_META_BYTES)})));
    assert!(matches!(validate_progress(&huge), Err(InvalidInput::TooLarge { field: "meta", .. })));
    // PostgreSQL cannot store NUL in text: every store refuses it alike.
    let nul = ProgressUpdate::default().label("a\0b");
    assert!(matches!(validate_progress(&nul), Err(InvalidInput::Text { field: "label", .. })));
}

#[test]
fn steps_are_validated() {
    assert_eq!(validate_step(&NewStep::info("ok").percent(100.0)), Ok(()));
    for message in ["", "   "] {
        let result = validate_step(&NewStep::info(message));
        assert!(matches!(result, Err(InvalidInput::Text { field: "message", .. })), "{message:?}");
    }
    let long = NewStep::info("m".repeat(MAX_TEXT_LEN + 1));
    assert!(matches!(validate_step(&long), Err(InvalidInput::Text { field: "message", .. })));
    let percent = NewStep::info("m").percent(101.0);
    assert!(matches!(validate_step(&percent), Err(InvalidInput::Percent { .. })));
    let kind = NewStep::info("m").kind(StepKind::Custom(String::new()));
    assert!(matches!(validate_step(&kind), Err(InvalidInput::Text { field: "step kind", .. })));
    let level = NewStep::info("m").level(StepLevel::Custom(" ".into()));
    assert!(matches!(validate_step(&level), Err(InvalidInput::Text { field: "step level", .. })));
    let deep = NewStep::info("m").meta(object(json!({"d": nested(MAX_JSON_DEPTH + 1)})));
    assert!(matches!(validate_step(&deep), Err(InvalidInput::TooDeep { field: "meta", .. })));
    // PostgreSQL cannot store NUL in text: every store refuses it alike (JSON meta may hold it).
    let nul = NewStep::info("before\0after");
    assert!(matches!(validate_step(&nul), Err(InvalidInput::Text { field: "message", .. })));
    let kind = NewStep::info("m").kind(StepKind::Custom("k\0".into()));
    assert!(matches!(validate_step(&kind), Err(InvalidInput::Text { field: "step kind", .. })));
    assert_eq!(validate_step(&NewStep::info("m").meta(object(json!({"nul": "\u{0}"})))), Ok(()));
}

#[test]
fn outputs_are_validated() {
    assert_eq!(validate_output(&json!({"outputPath": "/tmp/x"})), Ok(()));
    assert!(matches!(
        validate_output(&big_string(MAX_PAYLOAD_BYTES)),
        Err(InvalidInput::TooLarge { field: "output", .. })
    ));
    assert!(matches!(
        validate_output(&nested(MAX_JSON_DEPTH + 1)),
        Err(InvalidInput::TooDeep { field: "output", .. })
    ));
}

#[test]
fn reported_errors_are_validated() {
    assert_eq!(validate_error(&TaskError::new("")), Ok(()), "an empty message is allowed");
    let long = TaskError::new("e".repeat(MAX_TEXT_LEN + 1));
    assert!(matches!(
        validate_error(&long),
        Err(InvalidInput::Text { field: "error message", .. })
    ));
    let details = TaskError::new("e").with_details(big_string(MAX_META_BYTES));
    assert!(matches!(
        validate_error(&details),
        Err(InvalidInput::TooLarge { field: "error details", .. })
    ));
}

#[test]
fn claim_requests_are_validated() {
    let ok = ClaimRequest::new(RUNNER, 10, LEASE).kinds(vec![KindClaim::any(KIND)]).max_active(5);
    assert_eq!(ok.validate(), Ok(()));
    for runner in [String::new(), " ".into(), "r".repeat(MAX_KEY_LEN + 1)] {
        let result = ClaimRequest::new(runner.clone(), 1, LEASE).validate();
        assert!(matches!(result, Err(InvalidInput::Text { field: "runner", .. })), "{runner:?}");
    }
    for limit in [0, 1001] {
        let result = ClaimRequest::new(RUNNER, limit, LEASE).validate();
        assert!(matches!(result, Err(InvalidInput::Range { field: "limit", .. })), "{limit}");
    }
    let result = ClaimRequest::new(RUNNER, 1, Duration::ZERO).validate();
    assert!(matches!(result, Err(InvalidInput::Range { field: "lease", .. })));
    let result =
        ClaimRequest::new(RUNNER, 1, LEASE).kinds(vec![KindClaim::any("bad kind")]).validate();
    assert!(matches!(result, Err(InvalidInput::Kind { .. })));
}

#[test]
fn filters_are_normalized() {
    let filter = TaskFilter {
        channels: vec![" scope:a ".into(), "scope:a".into(), "scope:b".into()],
        states: vec![LifecycleState::Stale, LifecycleState::Queued, LifecycleState::Stale],
        statuses: vec![TaskStatus::Failed, TaskStatus::Queued, TaskStatus::Failed],
        kinds: vec![KIND.into()],
        dedupe_key: Some("d".into()),
        ..TaskFilter::all()
    };
    let normalized = filter.normalized().expect("valid");
    assert_eq!(normalized.channels, vec!["scope:a", "scope:b"]);
    assert_eq!(normalized.states, vec![LifecycleState::Queued, LifecycleState::Stale]);
    assert_eq!(normalized.statuses, vec![TaskStatus::Queued, TaskStatus::Failed]);
    assert_eq!(normalized.kinds, filter.kinds);
    assert_eq!(normalized.dedupe_key, filter.dedupe_key);
    assert_eq!(TaskFilter::all().normalized(), Ok(TaskFilter::all()));
}

#[test]
fn filters_refuse_bad_parts() {
    let bad_channel = TaskFilter { channels: vec!["a b".into()], ..TaskFilter::all() };
    assert!(matches!(bad_channel.normalized(), Err(InvalidInput::Channel { .. })));
    let many = (0..=MAX_CHANNELS).map(|i| format!("c{i}")).collect();
    let too_many = TaskFilter { channels: many, ..TaskFilter::all() };
    assert!(matches!(too_many.normalized(), Err(InvalidInput::TooManyChannels { .. })));
    let ids = (0..=MAX_PAGE_LIMIT).map(|i| TaskId::new(format!("t{i}")).expect("valid")).collect();
    let too_many_ids = TaskFilter { task_ids: ids, ..TaskFilter::all() };
    assert!(matches!(too_many_ids.normalized(), Err(InvalidInput::Range { field: "taskIds", .. })));
    let bad_kind = TaskFilter { kinds: vec![String::new()], ..TaskFilter::all() };
    assert!(matches!(bad_kind.normalized(), Err(InvalidInput::Kind { .. })));
    let keys = [
        ("dedupeKey", TaskFilter { dedupe_key: Some(String::new()), ..TaskFilter::all() }),
        (
            "concurrencyKey",
            TaskFilter { concurrency_key: Some(String::new()), ..TaskFilter::all() },
        ),
        ("supersedeKey", TaskFilter { supersede_key: Some(String::new()), ..TaskFilter::all() }),
    ];
    for (field, filter) in keys {
        let result = filter.normalized();
        assert!(matches!(result, Err(InvalidInput::Key { field: f, .. }) if f == field), "{field}");
    }
}

#[test]
fn backoffs_are_validated() {
    assert_eq!(Backoff::default().validate(), Ok(()));
    assert_eq!(Backoff::constant(Duration::from_secs(1)).validate(), Ok(()));
    let min_over_max = Backoff::exponential(Duration::from_secs(2), Duration::from_secs(1), 2.0);
    assert!(matches!(
        min_over_max.validate(),
        Err(InvalidInput::Range { field: "backoff.min", .. })
    ));
    for factor in [0.5, f64::NAN, f64::INFINITY] {
        let bad = Backoff { factor, ..Backoff::default() };
        assert!(
            matches!(bad.validate(), Err(InvalidInput::Range { field: "backoff.factor", .. })),
            "{factor}"
        );
    }
    for jitter in [-0.1, 1.1, f64::NAN] {
        let bad = Backoff { jitter, ..Backoff::default() };
        assert!(
            matches!(bad.validate(), Err(InvalidInput::Range { field: "backoff.jitter", .. })),
            "{jitter}"
        );
    }
    for jitter in [0.0, 1.0] {
        assert_eq!(Backoff { jitter, ..Backoff::default() }.validate(), Ok(()));
    }
}
