//! Live messages: [`TaskSubscriptionBootstrap`] and [`TaskLiveMessage`], the transport-neutral
//! messages a live subscriber receives (first a bootstrap, then events), in the spec's JSON
//! shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::aggregate::TaskAggregate;
use crate::change::ChangeCursor;
use crate::event::TaskLifecycleEvent;
use crate::query::SubscriptionQuery;
use crate::snapshot::TaskSnapshot;
use crate::step::StepRecord;
use crate::timestamp::Timestamp;

/// The current state a subscriber starts from, the spec's `TaskSubscriptionBootstrap`.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSubscriptionBootstrap {
    /// The query it answers.
    pub query: SubscriptionQuery,
    /// The matching tasks, newest first.
    pub snapshots: Vec<TaskSnapshot>,
    /// Recent steps by task id, oldest first.
    pub steps: BTreeMap<String, Vec<StepRecord>>,
    /// Counts over every matching task, when asked.
    pub aggregate: Option<TaskAggregate>,
    /// Where the store's change feed stood when the read began, for resuming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<ChangeCursor>,
    /// When it was read.
    pub timestamp: Timestamp,
}

/// A message to a live subscriber, the spec's `TaskLiveMessage`.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
// Both variants are built once per delivery and moved, never kept in bulk by this crate;
// boxing the event would cost an allocation on the hottest path (every progress update).
#[allow(clippy::large_enum_variant)]
pub enum TaskLiveMessage {
    /// The current state: always the first message.
    Bootstrap(TaskSubscriptionBootstrap),
    /// A lifecycle event after the bootstrap.
    Event {
        /// The event.
        event: TaskLifecycleEvent,
        /// When it was sent.
        timestamp: Timestamp,
    },
}
