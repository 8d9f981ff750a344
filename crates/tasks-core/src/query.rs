//! Read queries: [`TaskFilter`] (which tasks), [`TaskListQuery`] (a page of them, in an
//! [`TaskOrder`]), [`SnapshotQuery`], [`StepQuery`] (a task's steps from an `afterSeq`
//! cursor) and [`SubscriptionQuery`] (what a live subscriber wants).
//!
//! Filter semantics, the same in every store: each given condition must hold (AND); within a
//! list, any value may match (OR); an empty list or absent key does not filter. `channels`
//! matches a task carrying any of the given channels.

use serde::{Deserialize, Serialize};

use crate::channel::normalize_channels;
use crate::error::InvalidInput;
use crate::id::TaskId;
use crate::limits::{self, MAX_CHANNELS};
use crate::record::TaskRecord;
use crate::snapshot::TaskSnapshot;
use crate::status::{LifecycleState, TaskStatus};

/// Which tasks a read is about.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskFilter {
    /// Only these tasks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub task_ids: Vec<TaskId>,
    /// Only these kinds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// Only tasks carrying any of these channels.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// Only tasks in these lifecycle states.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<LifecycleState>,
    /// Only tasks with these persisted statuses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<TaskStatus>,
    /// Only tasks with this dedupe key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedupe_key: Option<String>,
    /// Only tasks with this concurrency key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency_key: Option<String>,
    /// Only tasks with this supersede key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supersede_key: Option<String>,
}

impl TaskFilter {
    /// A filter matching every task.
    pub fn all() -> Self {
        TaskFilter::default()
    }

    /// Whether `record` passes the filter.
    pub fn matches(&self, record: &TaskRecord) -> bool {
        self.matches_fields(FilterFields {
            id: &record.id,
            kind: &record.kind,
            channels: &record.channels,
            state: LifecycleState::of(record),
            status: record.status,
            dedupe_key: &record.dedupe_key,
            concurrency_key: &record.concurrency_key,
            supersede_key: &record.supersede_key,
        })
    }

    /// Whether `snapshot` passes the filter; the same rule as [`TaskFilter::matches`], for
    /// readers (a live tracker) that hold snapshots rather than records.
    pub fn matches_snapshot(&self, snapshot: &TaskSnapshot) -> bool {
        self.matches_fields(FilterFields {
            id: &snapshot.task_id,
            kind: &snapshot.kind,
            channels: &snapshot.channels,
            state: snapshot.state,
            status: snapshot.status,
            dedupe_key: &snapshot.dedupe_key,
            concurrency_key: &snapshot.concurrency_key,
            supersede_key: &snapshot.supersede_key,
        })
    }

    fn matches_fields(&self, task: FilterFields<'_>) -> bool {
        fn any_or_empty<T: PartialEq>(wanted: &[T], value: &T) -> bool {
            wanted.is_empty() || wanted.contains(value)
        }
        fn key_matches(wanted: &Option<String>, value: &Option<String>) -> bool {
            wanted.is_none() || wanted == value
        }
        any_or_empty(&self.task_ids, task.id)
            && (self.kinds.is_empty() || self.kinds.iter().any(|kind| kind == task.kind))
            && (self.channels.is_empty()
                || self.channels.iter().any(|channel| task.channels.contains(channel)))
            && any_or_empty(&self.states, &task.state)
            && any_or_empty(&self.statuses, &task.status)
            && key_matches(&self.dedupe_key, task.dedupe_key)
            && key_matches(&self.concurrency_key, task.concurrency_key)
            && key_matches(&self.supersede_key, task.supersede_key)
    }

    /// Checks the filter and normalizes its channels, so stores compare like with like.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] for an invalid channel, too many channels or ids, or a bad kind or key.
    pub fn normalized(&self) -> Result<TaskFilter, InvalidInput> {
        let mut filter = self.clone();
        if filter.channels.len() > MAX_CHANNELS {
            return Err(InvalidInput::TooManyChannels {
                count: filter.channels.len(),
                limit: MAX_CHANNELS,
            });
        }
        filter.channels = normalize_channels(&filter.channels)?;
        if filter.task_ids.len() > limits::MAX_PAGE_LIMIT as usize {
            return Err(InvalidInput::Range { field: "taskIds", expected: "at most 10000 ids" });
        }
        for kind in &filter.kinds {
            limits::validate_kind(kind)?;
        }
        for (field, key) in [
            ("dedupeKey", &filter.dedupe_key),
            ("concurrencyKey", &filter.concurrency_key),
            ("supersedeKey", &filter.supersede_key),
        ] {
            if let Some(key) = key {
                limits::validate_key(field, key)?;
            }
        }
        filter.states.sort();
        filter.states.dedup();
        filter.statuses.sort();
        filter.statuses.dedup();
        Ok(filter)
    }
}

/// The fields a filter looks at, borrowed from a record or a snapshot.
struct FilterFields<'a> {
    id: &'a TaskId,
    kind: &'a str,
    channels: &'a [String],
    state: LifecycleState,
    status: TaskStatus,
    dedupe_key: &'a Option<String>,
    concurrency_key: &'a Option<String>,
    supersede_key: &'a Option<String>,
}

/// The order of a task list. Ties are broken by id in the same direction.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaskOrder {
    /// Newest first (the default: what a dashboard shows).
    #[default]
    CreatedDesc,
    /// Oldest first.
    CreatedAsc,
    /// Most recently changed first.
    UpdatedDesc,
    /// Earliest due first.
    ScheduledAsc,
    /// Latest due first.
    ScheduledDesc,
}

impl TaskOrder {
    /// Compares two records in this order.
    pub fn compare(self, a: &TaskRecord, b: &TaskRecord) -> std::cmp::Ordering {
        match self {
            TaskOrder::CreatedAsc => (a.created_at, &a.id).cmp(&(b.created_at, &b.id)),
            TaskOrder::CreatedDesc => (b.created_at, &b.id).cmp(&(a.created_at, &a.id)),
            TaskOrder::UpdatedDesc => (b.updated_at, &b.id).cmp(&(a.updated_at, &a.id)),
            TaskOrder::ScheduledAsc => (a.scheduled_at, &a.id).cmp(&(b.scheduled_at, &b.id)),
            TaskOrder::ScheduledDesc => (b.scheduled_at, &b.id).cmp(&(a.scheduled_at, &a.id)),
        }
    }
}

/// A page of tasks.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskListQuery {
    /// Which tasks.
    #[serde(flatten)]
    pub filter: TaskFilter,
    /// At most this many (1 to 10,000; 100 when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Skip this many first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    /// In this order (`orderBy` on the wire, as in the spec).
    #[serde(rename = "orderBy")]
    pub order: TaskOrder,
}

impl TaskListQuery {
    /// Every task, newest first, first page.
    pub fn all() -> Self {
        TaskListQuery::default()
    }

    /// The tasks passing `filter`.
    pub fn filtered(filter: TaskFilter) -> Self {
        TaskListQuery { filter, ..TaskListQuery::default() }
    }

    /// The same query with a limit.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The same query with an offset.
    #[must_use]
    pub fn offset(mut self, offset: u32) -> Self {
        self.offset = Some(offset);
        self
    }

    /// The same query in another order.
    #[must_use]
    pub fn order(mut self, order: TaskOrder) -> Self {
        self.order = order;
        self
    }

    /// Checks the query: its filter (see [`TaskFilter::normalized`]) and its limit, resolved.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] naming the problem.
    pub fn normalized(&self) -> Result<(TaskFilter, u32), InvalidInput> {
        Ok((self.filter.normalized()?, limits::validate_page_limit("limit", self.limit)?))
    }
}

/// Options of a single snapshot read.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SnapshotOptions {
    /// Include this many of the most recent steps.
    pub include_steps: Option<u32>,
}

/// A page of snapshots.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SnapshotQuery {
    /// Which tasks, how many, in which order.
    #[serde(flatten)]
    pub list: TaskListQuery,
    /// Include this many of each task's most recent steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_steps: Option<u32>,
}

/// A read of a task's steps, oldest first.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StepQuery {
    /// Only steps with `seq` greater than this (the replay cursor).
    pub after_seq: Option<u64>,
    /// At most this many (1 to 10,000; 100 when absent).
    pub limit: Option<u32>,
    /// Take the most recent `limit` steps after the cursor instead of the first ones.
    pub latest: bool,
}

impl StepQuery {
    /// Steps after `seq`, the first `limit` of them.
    pub fn after(seq: u64, limit: u32) -> Self {
        StepQuery { after_seq: Some(seq), limit: Some(limit), latest: false }
    }

    /// The most recent `limit` steps.
    pub fn recent(limit: u32) -> Self {
        StepQuery { after_seq: None, limit: Some(limit), latest: true }
    }
}

/// What a live subscriber wants: which tasks, how many, how many recent steps each, and
/// whether to include the aggregate.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionQuery {
    /// Which tasks.
    #[serde(flatten)]
    pub filter: TaskFilter,
    /// At most this many snapshots in the bootstrap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// This many recent steps per task in the bootstrap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recent_steps: Option<u32>,
    /// Whether the bootstrap carries the aggregate (yes when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_aggregate: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EnqueueOptions, NewTask, Timestamp};
    use serde_json::json;

    fn record(kind: &str, channel: &str) -> TaskRecord {
        NewTask::new(kind, json!({}))
            .with_options(EnqueueOptions::new().channel(channel).dedupe_key("d"))
            .into_record(Timestamp::from_millis(1))
            .expect("valid")
    }

    #[test]
    fn filter_is_and_of_ors() {
        let a = record("a", "scope:x");
        let mut filter = TaskFilter { kinds: vec!["a".into(), "b".into()], ..TaskFilter::all() };
        assert!(filter.matches(&a));
        filter.channels = vec!["scope:y".into()];
        assert!(!filter.matches(&a));
        filter.channels.push("scope:x".into());
        assert!(filter.matches(&a));
        filter.dedupe_key = Some("other".into());
        assert!(!filter.matches(&a));
        filter.dedupe_key = Some("d".into());
        filter.states = vec![LifecycleState::Retrying];
        assert!(!filter.matches(&a));
        filter.states.push(LifecycleState::Queued);
        assert!(filter.matches(&a));
    }

    #[test]
    fn subscription_query_wire_shape() {
        let query = SubscriptionQuery {
            filter: TaskFilter {
                task_ids: vec![TaskId::new("t1").expect("ok")],
                ..TaskFilter::all()
            },
            recent_steps: Some(25),
            ..SubscriptionQuery::default()
        };
        let json = serde_json::to_value(&query).expect("ok");
        assert_eq!(json, json!({"taskIds": ["t1"], "recentSteps": 25}));
        let back: SubscriptionQuery = serde_json::from_value(json).expect("ok");
        assert_eq!(back, query);
    }
}
