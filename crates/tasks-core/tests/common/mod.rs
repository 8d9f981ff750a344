//! Record builders shared by the integration tests of tasks-core: a fixed timeline, a queued
//! task, and the same task driven by core's own transitions into every status, so each test
//! starts from a record that the state machine can actually produce. The `wire` module holds
//! the golden tests' fixtures and their expected JSON documents.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

pub(crate) mod wire;

use std::time::Duration;

use serde_json::json;
use tasks_core::transition;
use tasks_core::{
    EnqueueOptions, JsonObject, LeaseToken, NewTask, TaskError, TaskRecord, TaskStatus, Timestamp,
    TransitionRefusal,
};

/// When every test task is enqueued: 2026-01-01T00:00:00.000Z.
pub(crate) const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

/// The lease every helper claims with.
pub(crate) const LEASE: Duration = Duration::from_secs(30);

/// The runner every helper claims as.
pub(crate) const RUNNER: &str = "runner-a";

/// The kind of every test task.
pub(crate) const KIND: &str = "report.generate";

/// The map of a JSON object literal (metadata, meta).
pub(crate) fn object(value: serde_json::Value) -> JsonObject {
    match value {
        serde_json::Value::Object(map) => map,
        other => panic!("expected a JSON object, got {other}"),
    }
}

/// `T0` plus `millis` milliseconds.
pub(crate) fn at(millis: i64) -> Timestamp {
    Timestamp::from_millis(T0.as_millis() + millis)
}

/// `T0` plus `secs` seconds.
pub(crate) fn at_secs(secs: i64) -> Timestamp {
    at(secs * 1000)
}

/// A queued task enqueued at `T0` with default options (3 attempts).
pub(crate) fn queued() -> TaskRecord {
    queued_with(EnqueueOptions::new())
}

/// A queued task enqueued at `T0` with these options.
pub(crate) fn queued_with(options: EnqueueOptions) -> TaskRecord {
    NewTask::new(KIND, json!({"reportId": "rpt_42"}))
        .with_options(options)
        .into_record(T0)
        .expect("the test task is valid")
}

/// Claims `record` as `RUNNER` at `now` with a fresh token and `LEASE`.
pub(crate) fn claim_at(record: &TaskRecord, now: Timestamp) -> (TaskRecord, LeaseToken) {
    let token = LeaseToken::generate();
    let claimed = transition::claim(record, RUNNER, token.clone(), LEASE, now)
        .expect("the task is claimable");
    (claimed, token)
}

/// A task claimed at `T0 + 1s` (lease until `T0 + 31s`).
pub(crate) fn claimed() -> (TaskRecord, LeaseToken) {
    claim_at(&queued(), at_secs(1))
}

/// A task claimed at `T0 + 1s` and started at `T0 + 2s` (lease until `T0 + 31s`).
pub(crate) fn running() -> (TaskRecord, LeaseToken) {
    let (record, token) = claimed();
    let started = transition::start(&record, &token, at_secs(2)).expect("starts");
    (started, token)
}

/// A running task whose cancel was requested at `T0 + 3s`.
pub(crate) fn running_cancel_requested() -> (TaskRecord, LeaseToken) {
    let (record, token) = running();
    let asked = transition::request_cancel(&record, Some("user asked"), at_secs(3))
        .expect("an active task accepts a cancel request");
    (asked, token)
}

/// A task that failed its first attempt at `T0 + 5s` and waits for a retry at `T0 + 65s`.
pub(crate) fn retrying() -> TaskRecord {
    let (record, token) = running();
    transition::fail(&record, &token, TaskError::new("boom"), Some(at_secs(65)), at_secs(5))
        .expect("a failure with attempts left is retried")
}

/// A task in `status`, reached through core's transitions; the lease token is returned for
/// claimed and running tasks.
pub(crate) fn record_in(status: TaskStatus) -> (TaskRecord, Option<LeaseToken>) {
    match status {
        TaskStatus::Queued => (queued(), None),
        TaskStatus::Claimed => {
            let (record, token) = claimed();
            (record, Some(token))
        }
        TaskStatus::Running => {
            let (record, token) = running();
            (record, Some(token))
        }
        TaskStatus::Succeeded => {
            let (record, token) = running();
            let done = transition::complete(&record, &token, json!({"ok": true}), at_secs(5))
                .expect("completes");
            (done, None)
        }
        TaskStatus::Failed => {
            let (record, token) = running();
            let failed =
                transition::fail(&record, &token, TaskError::new("fatal"), None, at_secs(5))
                    .expect("fails");
            (failed, None)
        }
        TaskStatus::Cancelled => {
            let cancelled =
                transition::request_cancel(&queued(), None, at_secs(1)).expect("cancels");
            (cancelled, None)
        }
    }
}

/// Checks the two marks of every accepted transition: one revision more, `updatedAt = now`.
pub(crate) fn assert_touched(before: &TaskRecord, after: &TaskRecord, now: Timestamp) {
    assert_eq!(after.revision, before.revision + 1, "an accepted transition is one revision");
    assert_eq!(after.updated_at, now, "an accepted transition sets updatedAt");
    assert_eq!(after.id, before.id);
}

/// Runs a transition that must be refused and checks it refused with `expected` and left the
/// record as it was.
pub(crate) fn assert_refused<T: std::fmt::Debug>(
    record: &TaskRecord,
    expected: TransitionRefusal,
    apply: impl FnOnce(&TaskRecord) -> Result<T, TransitionRefusal>,
) {
    let before = record.clone();
    let refusal = apply(record).expect_err("the transition must be refused");
    assert_eq!(refusal, expected);
    assert_eq!(*record, before, "a refusal changes nothing");
}
