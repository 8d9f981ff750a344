//! The state machine: one pure function per transition, each taking the current record (and
//! the command's arguments and `now`) and returning the new record or a
//! [`TransitionRefusal`]. Nothing here performs I/O or reads a clock.
//!
//! Every accepted transition raises `revision` by one and sets `updatedAt` to `now`. Worker
//! writes (start, heartbeat, progress, steps, complete, fail, cancel acknowledgement, release)
//! check the lease first: the task must be claimed or running, hold the presented token, and
//! its lease must not have run out. Otherwise they refuse with
//! [`TransitionRefusal::LeaseLost`] and change nothing. This fencing is what makes a requeued
//! task safe from its old worker.
//!
//! Input validation (sizes, percents) is not a transition's concern: the `validate_*`
//! functions of this module and of [`limits`] run first, and stores call them
//! before touching anything.

use std::time::Duration;

use crate::error::{InvalidInput, TaskError, TransitionRefusal};
use crate::id::{LeaseToken, StepId, TaskId};
use crate::limits::{self, MAX_META_BYTES, MAX_PAYLOAD_BYTES};
use crate::record::TaskRecord;
use crate::snapshot::ProgressUpdate;
use crate::status::TaskStatus;
use crate::step::{NewStep, StepKind, StepLevel, StepRecord};
use crate::timestamp::Timestamp;

/// The error name and code of a cancellation.
pub const CANCELLED_CODE: &str = "cancelled";
/// The error name and code of a lease that ran out.
pub const LEASE_EXPIRED_CODE: &str = "lease_expired";

type Outcome<T = TaskRecord> = Result<T, TransitionRefusal>;

/// A copy of `record` with its revision raised and `updatedAt` set: the start of every
/// transition.
fn touched(record: &TaskRecord, now: Timestamp) -> TaskRecord {
    let mut next = record.clone();
    next.revision += 1;
    next.updated_at = now;
    next
}

/// Checks that `token` is the live lease of `record` at `now`.
///
/// # Errors
///
/// [`TransitionRefusal::LeaseLost`] when the task is not claimed or running, the token is not
/// the current one, or the lease has run out.
pub fn check_lease(record: &TaskRecord, token: &LeaseToken, now: Timestamp) -> Outcome<()> {
    let live = record.status.is_active()
        && record.lease_token.as_ref() == Some(token)
        && record.lease_expires_at.is_some_and(|expires| expires > now);
    if live { Ok(()) } else { Err(TransitionRefusal::LeaseLost) }
}

/// Records a sign of life: the watchdog's silence timer restarts and a stale mark clears.
fn sign_of_life(record: &mut TaskRecord, now: Timestamp) {
    record.last_heartbeat_at = Some(now);
    record.stale_at = None;
    record.stale_reason = None;
}

/// Clears the current lease (the owner stays, as who ran the task last).
fn drop_lease(record: &mut TaskRecord) {
    record.lease_token = None;
    record.lease_expires_at = None;
}

/// The error recorded when a task is cancelled.
pub fn cancelled_error(reason: Option<&str>) -> TaskError {
    TaskError::new(reason.unwrap_or("cancelled"))
        .with_name("TaskCancelled")
        .with_code(CANCELLED_CODE)
}

/// queued → claimed: takes the task for `runner` with a fresh lease.
///
/// The attempt is raised, the lease runs `lease` from `now`, and the retry time and stale mark
/// are cleared. The last error is kept so a UI can show why the task is being retried.
///
/// # Errors
///
/// [`TransitionRefusal::WrongStatus`] when not queued, [`TransitionRefusal::NotDue`] when its
/// `scheduledAt` is still ahead.
pub fn claim(
    record: &TaskRecord,
    runner: &str,
    token: LeaseToken,
    lease: Duration,
    now: Timestamp,
) -> Outcome {
    if record.status != TaskStatus::Queued {
        return Err(TransitionRefusal::WrongStatus { operation: "claim", status: record.status });
    }
    if record.scheduled_at > now {
        return Err(TransitionRefusal::NotDue { scheduled_at: record.scheduled_at });
    }
    let mut next = touched(record, now);
    next.status = TaskStatus::Claimed;
    next.attempt = record.attempt.saturating_add(1);
    next.claimed_at = Some(now);
    next.started_at = None;
    next.finished_at = None;
    next.lease_owner = Some(runner.to_owned());
    next.lease_token = Some(token);
    next.lease_expires_at = Some(now.saturating_add(lease));
    next.retry_scheduled_at = None;
    sign_of_life(&mut next, now);
    Ok(next)
}

/// claimed → running: the worker started the handler.
///
/// # Errors
///
/// [`TransitionRefusal::LeaseLost`]; [`TransitionRefusal::WrongStatus`] when already running.
pub fn start(record: &TaskRecord, token: &LeaseToken, now: Timestamp) -> Outcome {
    check_lease(record, token, now)?;
    if record.status != TaskStatus::Claimed {
        return Err(TransitionRefusal::WrongStatus { operation: "start", status: record.status });
    }
    let mut next = touched(record, now);
    next.status = TaskStatus::Running;
    next.started_at = Some(now);
    sign_of_life(&mut next, now);
    Ok(next)
}

/// Renews the lease for `lease` from `now` and records a sign of life.
///
/// # Errors
///
/// [`TransitionRefusal::LeaseLost`]: a lease that has run out cannot be renewed.
pub fn heartbeat(
    record: &TaskRecord,
    token: &LeaseToken,
    lease: Duration,
    now: Timestamp,
) -> Outcome {
    check_lease(record, token, now)?;
    let mut next = touched(record, now);
    next.lease_expires_at = Some(now.saturating_add(lease));
    sign_of_life(&mut next, now);
    Ok(next)
}

/// Checks a progress update: percent from 0 to 100, label and meta within limits.
///
/// # Errors
///
/// [`InvalidInput`] naming the field.
pub fn validate_progress(update: &ProgressUpdate) -> Result<(), InvalidInput> {
    if let Some(percent) = update.percent {
        limits::validate_percent(percent)?;
    }
    if let Some(label) = &update.label {
        validate_column_text("label", label, false)?;
    }
    limits::validate_object("meta", update.meta.as_ref(), MAX_META_BYTES)
}

/// Checks text that stores keep in a text column (a label, a step's message, kind and level):
/// within [`limits::validate_text`], and without NUL, which PostgreSQL cannot store. Every
/// store, and the host's reporter, refuse it alike, so one bad step is refused on its own
/// instead of failing the batch it was written with.
fn validate_column_text(
    field: &'static str,
    text: &str,
    required: bool,
) -> Result<(), InvalidInput> {
    limits::validate_text(field, text, required)?;
    if text.contains('\0') {
        return Err(InvalidInput::Text { field, reason: "it holds a NUL character" });
    }
    Ok(())
}

/// Applies a progress update (fields left `None` keep their value) and records a sign of life.
///
/// # Errors
///
/// [`TransitionRefusal::LeaseLost`].
pub fn set_progress(
    record: &TaskRecord,
    token: &LeaseToken,
    update: &ProgressUpdate,
    now: Timestamp,
) -> Outcome {
    check_lease(record, token, now)?;
    let mut next = touched(record, now);
    if let Some(percent) = update.percent {
        next.progress_percent = Some(limits::stored_percent(percent));
    }
    if let Some(label) = &update.label {
        next.progress_label = Some(label.clone());
    }
    if let Some(meta) = &update.meta {
        next.progress_meta = Some(meta.clone());
    }
    sign_of_life(&mut next, now);
    Ok(next)
}

/// Checks a step: a message that is not empty, percent and meta within limits.
///
/// # Errors
///
/// [`InvalidInput`] naming the field.
pub fn validate_step(step: &NewStep) -> Result<(), InvalidInput> {
    validate_column_text("message", &step.message, true)?;
    if let Some(percent) = step.percent {
        limits::validate_percent(percent)?;
    }
    validate_column_text("step kind", step.kind.as_str(), true)?;
    validate_column_text("step level", step.level.as_str(), true)?;
    limits::validate_object("meta", step.meta.as_ref(), MAX_META_BYTES)
}

/// Appends steps: they get the next `seq` numbers with no gap, the current attempt, and one
/// revision for the whole batch. Records a sign of life.
///
/// # Errors
///
/// [`TransitionRefusal::LeaseLost`].
pub fn append_steps(
    record: &TaskRecord,
    token: &LeaseToken,
    steps: &[NewStep],
    now: Timestamp,
) -> Outcome<(TaskRecord, Vec<StepRecord>)> {
    check_lease(record, token, now)?;
    let mut next = touched(record, now);
    let appended = numbered_steps(&mut next, steps, now);
    sign_of_life(&mut next, now);
    Ok((next, appended))
}

/// Numbers `steps` after the record's last `seq` and advances it.
fn numbered_steps(record: &mut TaskRecord, steps: &[NewStep], now: Timestamp) -> Vec<StepRecord> {
    steps.iter().map(|step| numbered_step(record, step, now)).collect()
}

/// Numbers one step after the record's last `seq` and advances it.
fn numbered_step(record: &mut TaskRecord, step: &NewStep, now: Timestamp) -> StepRecord {
    record.last_step_seq += 1;
    StepRecord {
        id: StepId::generate(),
        task_id: record.id.clone(),
        seq: record.last_step_seq,
        attempt: record.attempt,
        kind: step.kind.clone(),
        level: step.level.clone(),
        message: step.message.clone(),
        meta: step.meta.clone(),
        percent: step.percent.map(limits::stored_percent),
        created_at: now,
    }
}

/// Checks an output document.
///
/// # Errors
///
/// [`InvalidInput::TooLarge`] or [`InvalidInput::TooDeep`].
pub fn validate_output(output: &serde_json::Value) -> Result<(), InvalidInput> {
    limits::validate_json("output", output, MAX_PAYLOAD_BYTES)
}

/// Checks an error a worker reports.
///
/// # Errors
///
/// [`InvalidInput`] naming the field.
pub fn validate_error(error: &TaskError) -> Result<(), InvalidInput> {
    limits::validate_text("error message", &error.message, false)?;
    if let Some(details) = &error.details {
        limits::validate_json("error details", details, MAX_META_BYTES)?;
    }
    Ok(())
}

/// claimed | running → succeeded, with `output`. The lease ends; any earlier error is cleared.
///
/// # Errors
///
/// [`TransitionRefusal::LeaseLost`].
pub fn complete(
    record: &TaskRecord,
    token: &LeaseToken,
    output: serde_json::Value,
    now: Timestamp,
) -> Outcome {
    check_lease(record, token, now)?;
    let mut next = touched(record, now);
    next.status = TaskStatus::Succeeded;
    next.output = Some(output);
    next.error = None;
    next.finished_at = Some(now);
    next.stale_at = None;
    next.stale_reason = None;
    drop_lease(&mut next);
    Ok(next)
}

/// A failed attempt: retried at `retry_at` while attempts remain (queued again, lifecycle
/// `retrying`), else failed for good. Pass `retry_at: None` for an error that must not be
/// retried. A task whose cancel was requested ends cancelled instead of being retried.
///
/// # Errors
///
/// [`TransitionRefusal::LeaseLost`].
pub fn fail(
    record: &TaskRecord,
    token: &LeaseToken,
    error: TaskError,
    retry_at: Option<Timestamp>,
    now: Timestamp,
) -> Outcome {
    check_lease(record, token, now)?;
    let mut next = touched(record, now);
    next.error = Some(error);
    drop_lease(&mut next);
    next.stale_at = None;
    next.stale_reason = None;
    let retry_at = retry_at
        .filter(|_| record.attempt < record.max_attempts && record.cancel_requested_at.is_none());
    match retry_at {
        Some(at) => requeue(&mut next, at.max(now)),
        None if record.cancel_requested_at.is_some() => {
            next.status = TaskStatus::Cancelled;
            next.finished_at = Some(now);
        }
        None => {
            next.status = TaskStatus::Failed;
            next.finished_at = Some(now);
        }
    }
    Ok(next)
}

/// Puts a record back in the queue for a retry at `at`.
fn requeue(record: &mut TaskRecord, at: Timestamp) {
    record.status = TaskStatus::Queued;
    record.scheduled_at = at;
    record.retry_scheduled_at = Some(at);
    record.claimed_at = None;
    record.started_at = None;
    record.last_heartbeat_at = None;
}

/// claimed | running → cancelled: the worker acknowledges a cancellation (requested, or its
/// own decision) and stops.
///
/// # Errors
///
/// [`TransitionRefusal::LeaseLost`].
pub fn acknowledge_cancel(
    record: &TaskRecord,
    token: &LeaseToken,
    reason: Option<&str>,
    now: Timestamp,
) -> Outcome {
    check_lease(record, token, now)?;
    let mut next = touched(record, now);
    next.status = TaskStatus::Cancelled;
    next.error = Some(cancelled_error(reason));
    next.finished_at = Some(now);
    next.cancel_requested_at = Some(record.cancel_requested_at.unwrap_or(now));
    next.stale_at = None;
    next.stale_reason = None;
    drop_lease(&mut next);
    Ok(next)
}

/// claimed | running → queued at once: the runner gives the task back (it is stopping), so
/// another runner can take it without waiting for the lease to run out. The attempt is given
/// back too, since it did not run to an end. A task whose cancel was requested ends cancelled.
///
/// # Errors
///
/// [`TransitionRefusal::LeaseLost`].
pub fn release(record: &TaskRecord, token: &LeaseToken, now: Timestamp) -> Outcome {
    check_lease(record, token, now)?;
    let mut next = touched(record, now);
    drop_lease(&mut next);
    next.stale_at = None;
    next.stale_reason = None;
    if record.cancel_requested_at.is_some() {
        next.status = TaskStatus::Cancelled;
        next.error = Some(cancelled_error(Some("cancelled while its runner stopped")));
        next.finished_at = Some(now);
        return Ok(next);
    }
    next.status = TaskStatus::Queued;
    next.attempt = record.attempt.saturating_sub(1);
    next.scheduled_at = now;
    next.retry_scheduled_at = None;
    next.claimed_at = None;
    next.started_at = None;
    next.last_heartbeat_at = None;
    next.lease_owner = None;
    Ok(next)
}

/// A cancel asked for by a user (or a superseding task): a queued task is cancelled at once; a
/// claimed or running one gets `cancelRequestedAt` (kept from the first request) and its
/// runner is expected to stop it.
///
/// # Errors
///
/// [`TransitionRefusal::WrongStatus`] when the task has already finished.
pub fn request_cancel(record: &TaskRecord, reason: Option<&str>, now: Timestamp) -> Outcome {
    match record.status {
        TaskStatus::Queued => {
            let mut next = touched(record, now);
            next.status = TaskStatus::Cancelled;
            next.error = Some(cancelled_error(reason));
            next.finished_at = Some(now);
            next.cancel_requested_at = Some(now);
            next.retry_scheduled_at = None;
            Ok(next)
        }
        TaskStatus::Claimed | TaskStatus::Running => {
            if record.cancel_requested_at.is_some() {
                // Asked already: nothing changes, and the revision stays.
                return Ok(record.clone());
            }
            let mut next = touched(record, now);
            next.cancel_requested_at = Some(now);
            if let Some(reason) = reason {
                next.error = Some(cancelled_error(Some(reason)));
            }
            Ok(next)
        }
        status => Err(TransitionRefusal::WrongStatus { operation: "cancel", status }),
    }
}

/// The reason given to tasks replaced by a superseding one.
pub fn superseded_reason(by: &crate::TaskId) -> String {
    format!("superseded by task {by}")
}

/// Recovers a claimed or running task whose lease ran out (its worker died or hung): queued
/// again for `retry_at` while attempts remain, else failed; cancelled when a cancel was
/// requested. A step of kind `event` records what happened, for the task's log.
///
/// # Errors
///
/// [`TransitionRefusal::WrongStatus`] when not claimed or running,
/// [`TransitionRefusal::LeaseNotExpired`] while the lease still runs.
pub fn expire_lease(
    record: &TaskRecord,
    retry_at: Timestamp,
    now: Timestamp,
) -> Outcome<(TaskRecord, StepRecord)> {
    if !record.status.is_active() {
        return Err(TransitionRefusal::WrongStatus {
            operation: "expire the lease of",
            status: record.status,
        });
    }
    if record.lease_expires_at.is_some_and(|expires| expires > now) {
        return Err(TransitionRefusal::LeaseNotExpired {
            lease_expires_at: record.lease_expires_at,
        });
    }
    let owner = record.lease_owner.as_deref().unwrap_or("unknown runner");
    let mut next = touched(record, now);
    drop_lease(&mut next);
    next.stale_at = None;
    next.stale_reason = None;
    let message = if record.cancel_requested_at.is_some() {
        next.status = TaskStatus::Cancelled;
        next.error = Some(cancelled_error(Some("cancelled; its runner stopped answering")));
        next.finished_at = Some(now);
        format!("lease of {owner} expired during attempt {}; cancel completed", record.attempt)
    } else {
        next.error = Some(
            TaskError::new(format!(
                "the lease of {owner} expired during attempt {}",
                record.attempt
            ))
            .with_name("LeaseExpired")
            .with_code(LEASE_EXPIRED_CODE),
        );
        if record.attempt < record.max_attempts {
            requeue(&mut next, retry_at.max(now));
            format!(
                "lease of {owner} expired during attempt {} of {}; requeued",
                record.attempt, record.max_attempts
            )
        } else {
            next.status = TaskStatus::Failed;
            next.finished_at = Some(now);
            format!(
                "lease of {owner} expired during attempt {} of {}; no attempt left",
                record.attempt, record.max_attempts
            )
        }
    };
    let step = NewStep::info(message).kind(StepKind::Event).level(StepLevel::Warn);
    let step = numbered_step(&mut next, &step, now);
    Ok((next, step))
}

/// The dedupe key a [`retry`] of `record` must find free: `Some` for a finished (failed or
/// cancelled) task with a dedupe key, since running it again makes it open. The store looks
/// for another open task of the record's kind holding this key
/// ([`crate::enqueue::blocks_dedupe`]) and passes it to [`retry`].
pub fn retry_dedupe_key(record: &TaskRecord) -> Option<&str> {
    if record.status.is_open() { None } else { record.dedupe_key.as_deref() }
}

/// Runs a task again at an operator's request ("retry now").
///
/// A queued task scheduled later becomes due at `now` (one already due keeps its place). A
/// failed or cancelled task is queued again, due at `now`: its error, output, finish time,
/// cancel request, stale mark and lease are cleared, its attempt count is kept, and
/// `maxAttempts` is raised to `attempt + 1` when the attempts are used up, so it can run once
/// more. A step of kind `event` records the retry.
///
/// This is the only transition that changes `maxAttempts`: a store that writes back only the
/// columns transitions change must write that one too.
///
/// `dedupe_holder` is another open task of the same kind that holds the record's
/// [`retry_dedupe_key`], found by the store; reopening the record then would make two open
/// tasks share one dedupe key, so the retry is refused.
///
/// # Errors
///
/// [`TransitionRefusal::WrongStatus`] for a claimed, running or succeeded task;
/// [`TransitionRefusal::DedupeKeyHeld`] when `dedupe_holder` is given for a finished task.
pub fn retry(
    record: &TaskRecord,
    dedupe_holder: Option<&TaskId>,
    now: Timestamp,
) -> Outcome<(TaskRecord, StepRecord)> {
    let message = match record.status {
        TaskStatus::Queued => {
            let mut next = touched(record, now);
            next.scheduled_at = record.scheduled_at.min(now);
            next.retry_scheduled_at = record.retry_scheduled_at.map(|_| next.scheduled_at);
            let message = format!(
                "retry requested by an operator; due now (was due {})",
                record.scheduled_at
            );
            return Ok(with_event(next, message, now));
        }
        TaskStatus::Failed | TaskStatus::Cancelled => {
            if let (Some(key), Some(holder)) = (retry_dedupe_key(record), dedupe_holder) {
                return Err(TransitionRefusal::DedupeKeyHeld {
                    key: key.to_owned(),
                    holder: holder.clone(),
                });
            }
            format!(
                "retry requested by an operator after attempt {} ended {}; queued again",
                record.attempt,
                record.status.as_str()
            )
        }
        status => return Err(TransitionRefusal::WrongStatus { operation: "retry", status }),
    };
    let mut next = touched(record, now);
    requeue(&mut next, now);
    // An operator's retry, not a scheduled one.
    next.retry_scheduled_at = None;
    next.error = None;
    next.output = None;
    next.finished_at = None;
    next.cancel_requested_at = None;
    next.lease_owner = None;
    next.stale_at = None;
    next.stale_reason = None;
    drop_lease(&mut next);
    next.max_attempts = record.max_attempts.max(record.attempt.saturating_add(1));
    Ok(with_event(next, message, now))
}

/// Appends one `event` step with `message` to `record` (already touched for this transition).
fn with_event(mut record: TaskRecord, message: String, now: Timestamp) -> (TaskRecord, StepRecord) {
    let step = numbered_step(&mut record, &NewStep::info(message).kind(StepKind::Event), now);
    (record, step)
}

/// Marks a claimed or running task stale: it has shown no sign of life (claim, start,
/// heartbeat, progress, step) for at least `silent_for`.
///
/// # Errors
///
/// [`TransitionRefusal::WrongStatus`] when not claimed or running; [`TransitionRefusal::NotSilent`]
/// when it reported recently or is already stale.
pub fn mark_stale(
    record: &TaskRecord,
    silent_for: Duration,
    reason: &str,
    now: Timestamp,
) -> Outcome {
    if !record.status.is_active() {
        return Err(TransitionRefusal::WrongStatus {
            operation: "mark stale",
            status: record.status,
        });
    }
    let last_sign = record.last_heartbeat_at.or(record.claimed_at).unwrap_or(record.updated_at);
    if record.stale_at.is_some() || last_sign.saturating_add(silent_for) > now {
        return Err(TransitionRefusal::NotSilent);
    }
    let mut next = touched(record, now);
    next.stale_at = Some(now);
    next.stale_reason = Some(reason.to_owned());
    Ok(next)
}

/// Whether [`mark_stale`] would accept `record` at `now`: stores use this rule in their scans.
pub fn is_silent(record: &TaskRecord, silent_for: Duration, now: Timestamp) -> bool {
    mark_stale(record, silent_for, "", now).is_ok()
}
