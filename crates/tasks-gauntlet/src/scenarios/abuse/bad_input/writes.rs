//! Refused worker writes on a running task: bad progress, bad steps (alone and inside a batch
//! of good ones), an oversized output, an error with oversized details, a bad lease. Each is
//! refused with a typed error; the task stays running, untouched.

use std::time::Duration;

use serde_json::json;
use tasks_core::limits::{MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES, MAX_TEXT_LEN};
use tasks_core::{
    InvalidInput, JsonObject, Lease, LeaseToken, NewStep, ProgressUpdate, StepKind, StoreError,
    StoreErrorKind, TaskError, TaskStore, Timestamp,
};

use super::enqueues::nested;
use super::{Seeded, refused};
use crate::Violation;

fn invalid(error: &StoreError) -> bool {
    error.kind() == StoreErrorKind::InvalidInput
}

pub(super) fn check(store: &dyn TaskStore, seeded: &Seeded) -> Result<u32, Violation> {
    let lease = &seeded.running;
    let mut tally = 0;
    let now = Timestamp::now_utc;
    for (what, percent) in
        [("NaN", f64::NAN), ("-1", -1.0), ("101", 101.0), ("infinity", f64::INFINITY)]
    {
        let update = ProgressUpdate::percent(percent);
        refused(
            &mut tally,
            &format!("progress of {what} percent"),
            store.set_progress(lease, &update, now()),
            |e| matches!(e, StoreError::InvalidInput(InvalidInput::Percent { .. })),
        )?;
    }
    let long_label = ProgressUpdate::percent(1.0).label("l".repeat(MAX_TEXT_LEN + 1));
    refused(
        &mut tally,
        "a 16 KiB + 1 label",
        store.set_progress(lease, &long_label, now()),
        invalid,
    )?;
    let mut deep_meta = JsonObject::new();
    deep_meta.insert("deep".into(), nested(MAX_JSON_DEPTH + 1));
    let deep = ProgressUpdate { meta: Some(deep_meta.clone()), ..ProgressUpdate::percent(1.0) };
    refused(
        &mut tally,
        "progress meta nested 65 deep",
        store.set_progress(lease, &deep, now()),
        invalid,
    )?;
    let mut big_meta = JsonObject::new();
    big_meta.insert("blob".into(), json!("m".repeat(70 * 1024)));
    let big = ProgressUpdate { meta: Some(big_meta.clone()), ..ProgressUpdate::percent(1.0) };
    refused(
        &mut tally,
        "progress meta of 70 KiB",
        store.set_progress(lease, &big, now()),
        invalid,
    )?;
    let bad_steps: Vec<(&str, NewStep)> = vec![
        ("an empty step message", NewStep::info("")),
        ("a blank step message", NewStep::info(" \t ")),
        ("a 16 KiB + 1 step message", NewStep::info("s".repeat(MAX_TEXT_LEN + 1))),
        ("a step percent of 1000", NewStep::info("x").percent(1000.0)),
        ("a step meta nested 65 deep", NewStep::info("x").meta(deep_meta)),
        ("a step meta of 70 KiB", NewStep::info("x").meta(big_meta)),
        ("an empty custom step kind", NewStep::info("x").kind(StepKind::Custom(String::new()))),
    ];
    for (what, step) in bad_steps {
        refused(
            &mut tally,
            what,
            store.append_steps(lease, std::slice::from_ref(&step), now()),
            invalid,
        )?;
        let batch = [NewStep::info("good before"), step, NewStep::info("good after")];
        refused(
            &mut tally,
            &format!("{what}, in a batch"),
            store.append_steps(lease, &batch, now()),
            invalid,
        )?;
    }
    let huge_output = json!("o".repeat(MAX_PAYLOAD_BYTES + 1));
    refused(
        &mut tally,
        "an output over 1 MiB",
        store.complete(lease, huge_output, now()),
        invalid,
    )?;
    refused(
        &mut tally,
        "an output nested 20,000 deep",
        store.complete(lease, nested(20_000), now()),
        invalid,
    )?;
    let error = TaskError::new("failed").with_details(json!("d".repeat(70 * 1024)));
    refused(&mut tally, "error details of 70 KiB", store.fail(lease, error, None, now()), invalid)?;
    let error = TaskError::new("e".repeat(MAX_TEXT_LEN + 1));
    refused(
        &mut tally,
        "an error message over 16 KiB",
        store.fail(lease, error, None, now()),
        invalid,
    )?;
    refused(
        &mut tally,
        "a zero-length lease renewal",
        store.heartbeat(lease, Duration::ZERO, now()),
        invalid,
    )?;
    // A forged token: the lease is lost, nothing changes.
    let forged = Lease { task_id: lease.task_id.clone(), token: LeaseToken::generate() };
    refused(
        &mut tally,
        "a forged lease token",
        store.complete(&forged, json!(1), now()),
        |error| error.kind() == StoreErrorKind::LeaseLost,
    )?;
    Ok(tally)
}
