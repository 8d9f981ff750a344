//! Enqueueing: [`NewTask`] (kind, input, [`EnqueueOptions`]) and [`EnqueueOutcome`] with its
//! [`EnqueueDisposition`].
//!
//! Rules every store applies (the conformance suite checks them):
//! - **dedupe**: while a task of the same kind and `dedupeKey` is open (queued, claimed or
//!   running) and no cancel was requested for it, enqueueing returns that task with
//!   disposition `reused` and changes nothing. Once it has finished, a new task is created.
//! - **supersede**: with `supersedeExisting`, open tasks of the same kind and `supersedeKey`
//!   are superseded: queued ones are cancelled at once, claimed or running ones get a cancel
//!   request. The new task is created with disposition `superseded` when any was replaced.
//!   Dedupe is checked first: a reused task supersedes nothing.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::channel::normalize_channels;
use crate::error::InvalidInput;
use crate::id::TaskId;
use crate::limits::{self, MAX_META_BYTES, MAX_PAYLOAD_BYTES};
use crate::record::{JsonObject, TaskRecord};
use crate::timestamp::Timestamp;

/// Attempts allowed when neither the enqueue nor the handler says.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Most attempts a task may be given.
pub const MAX_ATTEMPTS_LIMIT: u32 = 1000;

/// The options of an enqueue, the spec's enqueue options.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct EnqueueOptions {
    /// A caller-chosen id; generated (a ULID) when absent.
    pub id: Option<TaskId>,
    /// Free metadata kept with the task.
    pub metadata: Option<JsonObject>,
    /// At most one task per concurrency key is claimed or running at a time.
    pub concurrency_key: Option<String>,
    /// Reuse an open task of the same kind and key instead of creating one.
    pub dedupe_key: Option<String>,
    /// The group a newer task may supersede.
    pub supersede_key: Option<String>,
    /// Supersede open tasks of the same kind and `supersedeKey`.
    pub supersede_existing: bool,
    /// Channels for subscriptions.
    pub channels: Vec<String>,
    /// Attempts allowed in all (1 to 1000); the store's default when absent.
    pub max_attempts: Option<u32>,
    /// Do not run before this instant.
    pub scheduled_at: Option<Timestamp>,
    /// Do not run before this much time has passed (exclusive with `scheduledAt`).
    #[serde(rename = "delayMs", with = "crate::serde_ms::optional")]
    pub delay: Option<Duration>,
    /// Higher runs first; default 0.
    pub priority: Option<i32>,
}

impl EnqueueOptions {
    /// Options with nothing set.
    pub fn new() -> Self {
        EnqueueOptions::default()
    }

    /// Sets a caller-chosen id.
    #[must_use]
    pub fn id(mut self, id: TaskId) -> Self {
        self.id = Some(id);
        self
    }

    /// Sets metadata.
    #[must_use]
    pub fn metadata(mut self, metadata: JsonObject) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Sets the concurrency key.
    #[must_use]
    pub fn concurrency_key(mut self, key: impl Into<String>) -> Self {
        self.concurrency_key = Some(key.into());
        self
    }

    /// Sets the dedupe key.
    #[must_use]
    pub fn dedupe_key(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    /// Sets the supersede key and asks to supersede open tasks holding it.
    #[must_use]
    pub fn supersede(mut self, key: impl Into<String>) -> Self {
        self.supersede_key = Some(key.into());
        self.supersede_existing = true;
        self
    }

    /// Sets the supersede key without superseding anything.
    #[must_use]
    pub fn supersede_key(mut self, key: impl Into<String>) -> Self {
        self.supersede_key = Some(key.into());
        self
    }

    /// Adds a channel.
    #[must_use]
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channels.push(channel.into());
        self
    }

    /// Sets the attempts allowed.
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Do not run before `at`.
    #[must_use]
    pub fn scheduled_at(mut self, at: Timestamp) -> Self {
        self.scheduled_at = Some(at);
        self
    }

    /// Do not run before `delay` has passed.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Sets the priority (higher first).
    #[must_use]
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = Some(priority);
        self
    }
}

/// A task to enqueue.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewTask {
    /// What the task does.
    pub kind: String,
    /// The handler's input.
    pub input: serde_json::Value,
    /// The options.
    #[serde(default)]
    pub options: EnqueueOptions,
}

impl NewTask {
    /// A task of `kind` with `input` and default options.
    pub fn new(kind: impl Into<String>, input: serde_json::Value) -> Self {
        NewTask { kind: kind.into(), input, options: EnqueueOptions::default() }
    }

    /// The same task with these options.
    #[must_use]
    pub fn with_options(mut self, options: EnqueueOptions) -> Self {
        self.options = options;
        self
    }

    /// Validates the task and builds its queued record, as of `now`.
    ///
    /// The id is the caller's, or a fresh ULID. Channels are normalized; `maxAttempts`
    /// defaults to [`DEFAULT_MAX_ATTEMPTS`]; `scheduledAt` is the given instant, `now` plus the
    /// delay, or `now`.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] naming the first problem found.
    pub fn into_record(self, now: Timestamp) -> Result<TaskRecord, InvalidInput> {
        let NewTask { kind, input, options } = self;
        limits::validate_kind(&kind)?;
        limits::validate_json("input", &input, MAX_PAYLOAD_BYTES)?;
        limits::validate_object("metadata", options.metadata.as_ref(), MAX_META_BYTES)?;
        for (field, key) in [
            ("concurrencyKey", &options.concurrency_key),
            ("dedupeKey", &options.dedupe_key),
            ("supersedeKey", &options.supersede_key),
        ] {
            if let Some(key) = key {
                limits::validate_key(field, key)?;
            }
        }
        if options.supersede_existing && options.supersede_key.is_none() {
            return Err(InvalidInput::SupersedeWithoutKey);
        }
        let channels = normalize_channels(&options.channels)?;
        let max_attempts = options.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&max_attempts) {
            return Err(InvalidInput::Range { field: "maxAttempts", expected: "from 1 to 1000" });
        }
        let scheduled_at = match (options.scheduled_at, options.delay) {
            (Some(_), Some(_)) => return Err(InvalidInput::ScheduleConflict),
            (Some(at), None) => at.max(now),
            (None, Some(delay)) => now.saturating_add(delay),
            (None, None) => now,
        };
        Ok(TaskRecord {
            id: options.id.unwrap_or_else(TaskId::generate),
            kind,
            status: crate::TaskStatus::Queued,
            input,
            output: None,
            error: None,
            metadata: options.metadata,
            progress_percent: None,
            progress_label: None,
            progress_meta: None,
            concurrency_key: options.concurrency_key,
            dedupe_key: options.dedupe_key,
            supersede_key: options.supersede_key,
            channels,
            attempt: 0,
            max_attempts,
            priority: options.priority.unwrap_or(0),
            scheduled_at,
            created_at: now,
            updated_at: now,
            claimed_at: None,
            started_at: None,
            finished_at: None,
            cancel_requested_at: None,
            lease_owner: None,
            lease_token: None,
            lease_expires_at: None,
            last_heartbeat_at: None,
            retry_scheduled_at: None,
            stale_at: None,
            stale_reason: None,
            last_step_seq: 0,
            revision: 1,
        })
    }
}

/// What an enqueue did.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnqueueDisposition {
    /// A new task was created.
    Created,
    /// An open task with the same kind and dedupe key was returned instead.
    Reused,
    /// A new task was created and older open tasks with its supersede key were replaced.
    Superseded,
}

impl EnqueueOutcome {
    /// The outcome of creating `task` (superseding `superseded_task_ids`, if any).
    pub fn created(task: TaskRecord, superseded_task_ids: Vec<TaskId>) -> Self {
        let disposition = if superseded_task_ids.is_empty() {
            EnqueueDisposition::Created
        } else {
            EnqueueDisposition::Superseded
        };
        EnqueueOutcome {
            task,
            deduplicated: false,
            disposition,
            reused_task_id: None,
            superseded_task_ids,
        }
    }

    /// The outcome of reusing the open task `existing`.
    pub fn reused(existing: TaskRecord) -> Self {
        EnqueueOutcome {
            reused_task_id: Some(existing.id.clone()),
            task: existing,
            deduplicated: true,
            disposition: EnqueueDisposition::Reused,
            superseded_task_ids: Vec::new(),
        }
    }
}

/// The result of an enqueue.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnqueueOutcome {
    /// The task created, or the one reused.
    pub task: TaskRecord,
    /// Whether an open task was reused (disposition `reused`), as the spec reports it.
    pub deduplicated: bool,
    /// What happened.
    pub disposition: EnqueueDisposition,
    /// The reused task's id, when reused.
    pub reused_task_id: Option<TaskId>,
    /// The ids of the tasks superseded (cancelled or asked to cancel).
    pub superseded_task_ids: Vec<TaskId>,
}

/// Whether an open record blocks a new task with the same kind and dedupe key: it is open and
/// no cancel was requested for it. Stores that search in their own query language must apply
/// the same rule.
pub fn blocks_dedupe(record: &TaskRecord, kind: &str, dedupe_key: &str) -> bool {
    record.kind == kind
        && record.dedupe_key.as_deref() == Some(dedupe_key)
        && record.status.is_open()
        && record.cancel_requested_at.is_none()
}

/// Whether a record is superseded by a new task of `kind` with `supersede_key`: it is open and
/// holds the same kind and key.
pub fn is_superseded_by(record: &TaskRecord, kind: &str, supersede_key: &str) -> bool {
    record.kind == kind
        && record.supersede_key.as_deref() == Some(supersede_key)
        && record.status.is_open()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: Timestamp = Timestamp::from_millis(1_000_000);

    #[test]
    fn builds_a_queued_record() {
        let record = NewTask::new("report.generate", json!({"reportId": "rpt_42"}))
            .with_options(EnqueueOptions::new().channel(" scope:a ").priority(5))
            .into_record(NOW)
            .expect("valid");
        assert_eq!(record.status, crate::TaskStatus::Queued);
        assert_eq!(record.channels, vec!["scope:a"]);
        assert_eq!(record.max_attempts, DEFAULT_MAX_ATTEMPTS);
        assert_eq!((record.attempt, record.revision, record.priority), (0, 1, 5));
        assert_eq!(record.scheduled_at, NOW);
    }

    #[test]
    fn schedules_by_delay_or_instant() {
        let delayed = NewTask::new("k", json!(null))
            .with_options(EnqueueOptions::new().delay(Duration::from_secs(2)))
            .into_record(NOW)
            .expect("valid");
        assert_eq!(delayed.scheduled_at.as_millis(), NOW.as_millis() + 2000);
        let both = EnqueueOptions::new().delay(Duration::from_secs(1)).scheduled_at(NOW);
        let err = NewTask::new("k", json!(null)).with_options(both).into_record(NOW);
        assert_eq!(err, Err(InvalidInput::ScheduleConflict));
    }

    #[test]
    fn refuses_bad_options() {
        let cases = [
            EnqueueOptions { supersede_existing: true, ..EnqueueOptions::default() },
            EnqueueOptions::new().max_attempts(0),
            EnqueueOptions::new().dedupe_key(""),
            EnqueueOptions::new().channel("bad channel"),
        ];
        for options in cases {
            let result = NewTask::new("k", json!(null)).with_options(options).into_record(NOW);
            assert!(result.is_err());
        }
        assert!(NewTask::new("", json!(null)).into_record(NOW).is_err());
    }
}
