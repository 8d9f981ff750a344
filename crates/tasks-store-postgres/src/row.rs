//! Rows: decoding task and step rows into core's records, and the column arrays that batch
//! writes send (`unnest($1::text[], ...)`), so a batch of any size is one statement.
//!
//! Timestamps are stored as `bigint` milliseconds (core's `Timestamp` exactly), JSON documents
//! as `json`, channels as a `jsonb` array of strings.

use postgres::Row;
use postgres::types::{Json, ToSql};
use serde_json::Value;
use tasks_core::{
    JsonObject, LeaseToken, StepId, StepKind, StepLevel, StepRecord, StoreError, TaskError, TaskId,
    TaskRecord, TaskStatus, Timestamp,
};

use crate::error::corrupt;

/// The task columns, in the order [`task_from_row`] reads them.
pub(crate) const TASK_COLUMNS: [&str; 33] = [
    "id",
    "kind",
    "status",
    "input",
    "output",
    "error",
    "metadata",
    "progress_percent",
    "progress_label",
    "progress_meta",
    "concurrency_key",
    "dedupe_key",
    "supersede_key",
    "channels",
    "attempt",
    "max_attempts",
    "priority",
    "scheduled_at",
    "created_at",
    "updated_at",
    "claimed_at",
    "started_at",
    "finished_at",
    "cancel_requested_at",
    "lease_owner",
    "lease_token",
    "lease_expires_at",
    "last_heartbeat_at",
    "retry_scheduled_at",
    "stale_at",
    "stale_reason",
    "last_step_seq",
    "revision",
];

/// The task columns as a select list, each prefixed by `alias.` when an alias is given.
pub(crate) fn task_columns(alias: &str) -> String {
    let prefix = if alias.is_empty() { String::new() } else { format!("{alias}.") };
    TASK_COLUMNS.iter().map(|column| format!("{prefix}{column}")).collect::<Vec<_>>().join(", ")
}

/// The step columns, in the order [`step_from_row`] reads them.
pub(crate) const STEP_COLUMNS: &str =
    "task_id, seq, id, attempt, kind, level, message, meta, percent, created_at";

fn get<'a, T: postgres::types::FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, StoreError> {
    row.try_get(index).map_err(|_| corrupt(TASK_COLUMNS.get(index).copied().unwrap_or("column")))
}

fn millis(value: Option<i64>) -> Option<Timestamp> {
    value.map(Timestamp::from_millis)
}

fn unsigned(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(what))
}

fn object(value: Option<Value>, what: &str) -> Result<Option<JsonObject>, StoreError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(corrupt(what)),
    }
}

/// Decodes a row selected with [`task_columns`].
pub(crate) fn task_from_row(row: &Row) -> Result<TaskRecord, StoreError> {
    let id: String = get(row, 0)?;
    let status: String = get(row, 2)?;
    let error: Option<Value> = get(row, 5)?;
    let channels: Value = get(row, 13)?;
    let attempt: i64 = get(row, 14)?;
    let max_attempts: i64 = get(row, 15)?;
    let token: Option<String> = get(row, 25)?;
    Ok(TaskRecord {
        id: TaskId::new(id).map_err(|_| corrupt("id"))?,
        kind: get(row, 1)?,
        status: TaskStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        input: get(row, 3)?,
        output: get(row, 4)?,
        error: error
            .map(serde_json::from_value::<TaskError>)
            .transpose()
            .map_err(|_| corrupt("error"))?,
        metadata: object(get(row, 6)?, "metadata")?,
        progress_percent: get(row, 7)?,
        progress_label: get(row, 8)?,
        progress_meta: object(get(row, 9)?, "progress_meta")?,
        concurrency_key: get(row, 10)?,
        dedupe_key: get(row, 11)?,
        supersede_key: get(row, 12)?,
        channels: serde_json::from_value(channels).map_err(|_| corrupt("channels"))?,
        attempt: u32::try_from(attempt).map_err(|_| corrupt("attempt"))?,
        max_attempts: u32::try_from(max_attempts).map_err(|_| corrupt("max_attempts"))?,
        priority: get(row, 16)?,
        scheduled_at: Timestamp::from_millis(get(row, 17)?),
        created_at: Timestamp::from_millis(get(row, 18)?),
        updated_at: Timestamp::from_millis(get(row, 19)?),
        claimed_at: millis(get(row, 20)?),
        started_at: millis(get(row, 21)?),
        finished_at: millis(get(row, 22)?),
        cancel_requested_at: millis(get(row, 23)?),
        lease_owner: get(row, 24)?,
        lease_token: token.map(LeaseToken::from_stored),
        lease_expires_at: millis(get(row, 26)?),
        last_heartbeat_at: millis(get(row, 27)?),
        retry_scheduled_at: millis(get(row, 28)?),
        stale_at: millis(get(row, 29)?),
        stale_reason: get(row, 30)?,
        last_step_seq: unsigned(get(row, 31)?, "last_step_seq")?,
        revision: unsigned(get(row, 32)?, "revision")?,
    })
}

/// Decodes a row selected with [`STEP_COLUMNS`].
pub(crate) fn step_from_row(row: &Row) -> Result<StepRecord, StoreError> {
    let step = |what: &'static str| move |_| corrupt(what);
    let task_id: String = row.try_get(0).map_err(step("step task_id"))?;
    let seq: i64 = row.try_get(1).map_err(step("step seq"))?;
    let id: String = row.try_get(2).map_err(step("step id"))?;
    let attempt: i64 = row.try_get(3).map_err(step("step attempt"))?;
    let kind: String = row.try_get(4).map_err(step("step kind"))?;
    let level: String = row.try_get(5).map_err(step("step level"))?;
    let meta: Option<Value> = row.try_get(7).map_err(step("step meta"))?;
    Ok(StepRecord {
        id: StepId::from_stored(id),
        task_id: TaskId::new(task_id).map_err(|_| corrupt("step task_id"))?,
        seq: unsigned(seq, "step seq")?,
        attempt: u32::try_from(attempt).map_err(|_| corrupt("step attempt"))?,
        kind: StepKind::parse(&kind),
        level: StepLevel::parse(&level),
        message: row.try_get(6).map_err(step("step message"))?,
        meta: object(meta, "step meta")?,
        percent: row.try_get(8).map_err(step("step percent"))?,
        created_at: Timestamp::from_millis(row.try_get(9).map_err(step("step created_at"))?),
    })
}

fn signed(value: u64) -> i64 {
    // Revisions, attempts and seqs stay far below i64::MAX; saturate rather than wrap.
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn ms(value: Option<Timestamp>) -> Option<i64> {
    value.map(Timestamp::as_millis)
}

/// New tasks as column arrays, for `INSERT ... SELECT * FROM unnest(...)`. The arrays borrow
/// from the records: a batch of a thousand tasks is encoded without copying a document.
#[derive(Default)]
pub(crate) struct InsertArrays<'a> {
    id: Vec<&'a str>,
    kind: Vec<&'a str>,
    status: Vec<&'static str>,
    input: Vec<&'a Value>,
    metadata: Vec<Option<Json<&'a JsonObject>>>,
    concurrency_key: Vec<Option<&'a str>>,
    dedupe_key: Vec<Option<&'a str>>,
    supersede_key: Vec<Option<&'a str>>,
    channels: Vec<Json<&'a Vec<String>>>,
    attempt: Vec<i64>,
    max_attempts: Vec<i64>,
    priority: Vec<i32>,
    scheduled_at: Vec<i64>,
    created_at: Vec<i64>,
    updated_at: Vec<i64>,
    last_step_seq: Vec<i64>,
    revision: Vec<i64>,
}

/// The columns [`InsertArrays`] fills, and their array types, in parameter order.
pub(crate) const INSERT_COLUMNS: [(&str, &str); 17] = [
    ("id", "text[]"),
    ("kind", "text[]"),
    ("status", "text[]"),
    ("input", "json[]"),
    ("metadata", "json[]"),
    ("concurrency_key", "text[]"),
    ("dedupe_key", "text[]"),
    ("supersede_key", "text[]"),
    ("channels", "jsonb[]"),
    ("attempt", "int8[]"),
    ("max_attempts", "int8[]"),
    ("priority", "int4[]"),
    ("scheduled_at", "int8[]"),
    ("created_at", "int8[]"),
    ("updated_at", "int8[]"),
    ("last_step_seq", "int8[]"),
    ("revision", "int8[]"),
];

impl<'a> InsertArrays<'a> {
    pub(crate) fn push(&mut self, record: &'a TaskRecord) {
        self.id.push(record.id.as_str());
        self.kind.push(&record.kind);
        self.status.push(record.status.as_str());
        self.input.push(&record.input);
        self.metadata.push(record.metadata.as_ref().map(Json));
        self.concurrency_key.push(record.concurrency_key.as_deref());
        self.dedupe_key.push(record.dedupe_key.as_deref());
        self.supersede_key.push(record.supersede_key.as_deref());
        self.channels.push(Json(&record.channels));
        self.attempt.push(i64::from(record.attempt));
        self.max_attempts.push(i64::from(record.max_attempts));
        self.priority.push(record.priority);
        self.scheduled_at.push(record.scheduled_at.as_millis());
        self.created_at.push(record.created_at.as_millis());
        self.updated_at.push(record.updated_at.as_millis());
        self.last_step_seq.push(signed(record.last_step_seq));
        self.revision.push(signed(record.revision));
    }

    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 17] {
        [
            &self.id,
            &self.kind,
            &self.status,
            &self.input,
            &self.metadata,
            &self.concurrency_key,
            &self.dedupe_key,
            &self.supersede_key,
            &self.channels,
            &self.attempt,
            &self.max_attempts,
            &self.priority,
            &self.scheduled_at,
            &self.created_at,
            &self.updated_at,
            &self.last_step_seq,
            &self.revision,
        ]
    }
}

/// New tasks without dedupe or supersede key, for the lean insert: the [`PLAIN_COLUMNS`] as
/// arrays, and what every new task shares (status, attempt, creation times, step counter,
/// revision: [`SHARED_COLUMNS`]) once. Channel lists are sent only when some task has one;
/// otherwise the column's default (`[]`) fills them. A thousand tasks then send eight or nine
/// arrays instead of seventeen, which the server had to take apart element by element.
pub(crate) struct PlainInsert<'a> {
    id: Vec<&'a str>,
    kind: Vec<&'a str>,
    input: Vec<&'a Value>,
    metadata: Vec<Option<Json<&'a JsonObject>>>,
    concurrency_key: Vec<Option<&'a str>>,
    max_attempts: Vec<i64>,
    priority: Vec<i32>,
    scheduled_at: Vec<i64>,
    status: &'static str,
    attempt: i64,
    created_at: i64,
    updated_at: i64,
    last_step_seq: i64,
    revision: i64,
    /// `None` when every list is empty.
    channels: Option<Vec<Json<&'a Vec<String>>>>,
}

/// The columns [`PlainInsert`] sends as arrays, and their array types, in parameter order.
pub(crate) const PLAIN_COLUMNS: [(&str, &str); 8] = [
    ("id", "text[]"),
    ("kind", "text[]"),
    ("input", "json[]"),
    ("metadata", "json[]"),
    ("concurrency_key", "text[]"),
    ("max_attempts", "int8[]"),
    ("priority", "int4[]"),
    ("scheduled_at", "int8[]"),
];

/// The columns [`PlainInsert`] sends once, and their types, in parameter order (after the
/// arrays).
pub(crate) const SHARED_COLUMNS: [(&str, &str); 6] = [
    ("status", "text"),
    ("attempt", "int8"),
    ("created_at", "int8"),
    ("updated_at", "int8"),
    ("last_step_seq", "int8"),
    ("revision", "int8"),
];

impl<'a> PlainInsert<'a> {
    /// The tasks in the lean form. `records` is a non-empty run of plain tasks from one
    /// `enqueue::prepare` (no dedupe or supersede key, and one `now`), so they share the
    /// [`SHARED_COLUMNS`], which are taken from the first.
    pub(crate) fn new(records: &[&'a TaskRecord]) -> Self {
        let first = records[0];
        debug_assert!(records.iter().all(|record| {
            record.dedupe_key.is_none()
                && record.supersede_key.is_none()
                && record.status == first.status
                && record.attempt == first.attempt
                && record.created_at == first.created_at
                && record.updated_at == first.updated_at
                && record.last_step_seq == first.last_step_seq
                && record.revision == first.revision
        }));
        let channels = records
            .iter()
            .any(|record| !record.channels.is_empty())
            .then(|| records.iter().map(|record| Json(&record.channels)).collect());
        PlainInsert {
            id: records.iter().map(|record| record.id.as_str()).collect(),
            kind: records.iter().map(|record| record.kind.as_str()).collect(),
            input: records.iter().map(|record| &record.input).collect(),
            metadata: records.iter().map(|record| record.metadata.as_ref().map(Json)).collect(),
            concurrency_key: records
                .iter()
                .map(|record| record.concurrency_key.as_deref())
                .collect(),
            max_attempts: records.iter().map(|record| i64::from(record.max_attempts)).collect(),
            priority: records.iter().map(|record| record.priority).collect(),
            scheduled_at: records.iter().map(|record| record.scheduled_at.as_millis()).collect(),
            status: first.status.as_str(),
            attempt: i64::from(first.attempt),
            created_at: first.created_at.as_millis(),
            updated_at: first.updated_at.as_millis(),
            last_step_seq: signed(first.last_step_seq),
            revision: signed(first.revision),
            channels,
        }
    }

    /// Whether the channel lists are sent (see `Sql::insert_plain`).
    pub(crate) fn has_channels(&self) -> bool {
        self.channels.is_some()
    }

    /// The parameters: the [`PLAIN_COLUMNS`], the [`SHARED_COLUMNS`], then the channel lists
    /// when sent.
    pub(crate) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &self.id,
            &self.kind,
            &self.input,
            &self.metadata,
            &self.concurrency_key,
            &self.max_attempts,
            &self.priority,
            &self.scheduled_at,
            &self.status,
            &self.attempt,
            &self.created_at,
            &self.updated_at,
            &self.last_step_seq,
            &self.revision,
        ];
        if let Some(channels) = &self.channels {
            params.push(channels);
        }
        params
    }
}

/// Changed tasks as column arrays, for `UPDATE ... FROM unnest(...)` guarded by the revision
/// each was read at. The JSON documents (`output`, `error`, `progress_meta`) are sent only
/// when some record of the batch changed one, so a heartbeat never re-sends (and re-TOASTs) a
/// large document. The arrays borrow from the new records.
#[derive(Default)]
pub(crate) struct UpdateArrays<'a> {
    id: Vec<&'a str>,
    old_revision: Vec<i64>,
    status: Vec<&'static str>,
    attempt: Vec<i64>,
    max_attempts: Vec<i64>,
    scheduled_at: Vec<i64>,
    updated_at: Vec<i64>,
    claimed_at: Vec<Option<i64>>,
    started_at: Vec<Option<i64>>,
    finished_at: Vec<Option<i64>>,
    cancel_requested_at: Vec<Option<i64>>,
    lease_owner: Vec<Option<&'a str>>,
    lease_token: Vec<Option<&'a str>>,
    lease_expires_at: Vec<Option<i64>>,
    last_heartbeat_at: Vec<Option<i64>>,
    retry_scheduled_at: Vec<Option<i64>>,
    stale_at: Vec<Option<i64>>,
    stale_reason: Vec<Option<&'a str>>,
    last_step_seq: Vec<i64>,
    revision: Vec<i64>,
    progress_percent: Vec<Option<f64>>,
    progress_label: Vec<Option<&'a str>>,
    output: Vec<Option<&'a Value>>,
    error: Vec<Option<Json<&'a TaskError>>>,
    progress_meta: Vec<Option<Json<&'a JsonObject>>>,
    /// Whether any record changed a JSON document.
    pub(crate) documents: bool,
}

/// The columns [`UpdateArrays`] fills (after `id` and `old_revision`), with array types.
pub(crate) const UPDATE_COLUMNS: [(&str, &str); 20] = [
    ("status", "text[]"),
    ("attempt", "int8[]"),
    ("max_attempts", "int8[]"),
    ("scheduled_at", "int8[]"),
    ("updated_at", "int8[]"),
    ("claimed_at", "int8[]"),
    ("started_at", "int8[]"),
    ("finished_at", "int8[]"),
    ("cancel_requested_at", "int8[]"),
    ("lease_owner", "text[]"),
    ("lease_token", "text[]"),
    ("lease_expires_at", "int8[]"),
    ("last_heartbeat_at", "int8[]"),
    ("retry_scheduled_at", "int8[]"),
    ("stale_at", "int8[]"),
    ("stale_reason", "text[]"),
    ("last_step_seq", "int8[]"),
    ("revision", "int8[]"),
    ("progress_percent", "float8[]"),
    ("progress_label", "text[]"),
];

/// The JSON columns, sent when [`UpdateArrays::documents`] is set.
pub(crate) const DOCUMENT_COLUMNS: [(&str, &str); 3] =
    [("output", "json[]"), ("error", "json[]"), ("progress_meta", "json[]")];

impl<'a> UpdateArrays<'a> {
    /// Adds the change from `old` (as read) to `new` (as core's transition made it).
    pub(crate) fn push(&mut self, old: &TaskRecord, new: &'a TaskRecord) {
        debug_assert_eq!(old.id, new.id);
        debug_assert!(
            old.input == new.input && old.kind == new.kind && old.channels == new.channels,
            "transitions never change what enqueue set"
        );
        self.documents |= old.output != new.output
            || old.error != new.error
            || old.progress_meta != new.progress_meta;
        self.id.push(new.id.as_str());
        self.old_revision.push(signed(old.revision));
        self.status.push(new.status.as_str());
        self.attempt.push(i64::from(new.attempt));
        self.max_attempts.push(i64::from(new.max_attempts));
        self.scheduled_at.push(new.scheduled_at.as_millis());
        self.updated_at.push(new.updated_at.as_millis());
        self.claimed_at.push(ms(new.claimed_at));
        self.started_at.push(ms(new.started_at));
        self.finished_at.push(ms(new.finished_at));
        self.cancel_requested_at.push(ms(new.cancel_requested_at));
        self.lease_owner.push(new.lease_owner.as_deref());
        self.lease_token.push(new.lease_token.as_ref().map(LeaseToken::as_str));
        self.lease_expires_at.push(ms(new.lease_expires_at));
        self.last_heartbeat_at.push(ms(new.last_heartbeat_at));
        self.retry_scheduled_at.push(ms(new.retry_scheduled_at));
        self.stale_at.push(ms(new.stale_at));
        self.stale_reason.push(new.stale_reason.as_deref());
        self.last_step_seq.push(signed(new.last_step_seq));
        self.revision.push(signed(new.revision));
        self.progress_percent.push(new.progress_percent);
        self.progress_label.push(new.progress_label.as_deref());
        self.output.push(new.output.as_ref());
        self.error.push(new.error.as_ref().map(Json));
        self.progress_meta.push(new.progress_meta.as_ref().map(Json));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.id.is_empty()
    }

    /// The parameters: id, old revision, the [`UPDATE_COLUMNS`], then the
    /// [`DOCUMENT_COLUMNS`] when `documents` is set.
    pub(crate) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &self.id,
            &self.old_revision,
            &self.status,
            &self.attempt,
            &self.max_attempts,
            &self.scheduled_at,
            &self.updated_at,
            &self.claimed_at,
            &self.started_at,
            &self.finished_at,
            &self.cancel_requested_at,
            &self.lease_owner,
            &self.lease_token,
            &self.lease_expires_at,
            &self.last_heartbeat_at,
            &self.retry_scheduled_at,
            &self.stale_at,
            &self.stale_reason,
            &self.last_step_seq,
            &self.revision,
            &self.progress_percent,
            &self.progress_label,
        ];
        if self.documents {
            params.push(&self.output);
            params.push(&self.error);
            params.push(&self.progress_meta);
        }
        params
    }
}

/// New steps as column arrays.
#[derive(Default)]
pub(crate) struct StepArrays<'a> {
    task_id: Vec<&'a str>,
    seq: Vec<i64>,
    id: Vec<&'a str>,
    attempt: Vec<i64>,
    kind: Vec<&'a str>,
    level: Vec<&'a str>,
    message: Vec<&'a str>,
    meta: Vec<Option<Json<&'a JsonObject>>>,
    percent: Vec<Option<f64>>,
    created_at: Vec<i64>,
}

/// The step columns and their array types, in parameter order.
pub(crate) const STEP_ARRAY_COLUMNS: [(&str, &str); 10] = [
    ("task_id", "text[]"),
    ("seq", "int8[]"),
    ("id", "text[]"),
    ("attempt", "int8[]"),
    ("kind", "text[]"),
    ("level", "text[]"),
    ("message", "text[]"),
    ("meta", "json[]"),
    ("percent", "float8[]"),
    ("created_at", "int8[]"),
];

impl<'a> StepArrays<'a> {
    pub(crate) fn push(&mut self, step: &'a StepRecord) {
        self.task_id.push(step.task_id.as_str());
        self.seq.push(signed(step.seq));
        self.id.push(step.id.as_str());
        self.attempt.push(i64::from(step.attempt));
        self.kind.push(step.kind.as_str());
        self.level.push(step.level.as_str());
        self.message.push(&step.message);
        self.meta.push(step.meta.as_ref().map(Json));
        self.percent.push(step.percent);
        self.created_at.push(step.created_at.as_millis());
    }

    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 10] {
        [
            &self.task_id,
            &self.seq,
            &self.id,
            &self.attempt,
            &self.kind,
            &self.level,
            &self.message,
            &self.meta,
            &self.percent,
            &self.created_at,
        ]
    }
}
