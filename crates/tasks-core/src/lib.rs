//! The core of `tasks`: the data model, the state machine, and the traits every store and
//! executor implements. No I/O, no async runtime, no SQL.
//!
//! This crate is the contract third parties build on (a store of their own, an executor of
//! their own), so its API changes rarely and on purpose. Its dependencies are serde,
//! serde_json, thiserror, time and ulid, and nothing heavier.
//!
//! # Map
//!
//! - Values: [`timestamp`], [`id`], [`status`] (statuses and lifecycle states), [`record`],
//!   [`snapshot`] (with progress), [`step`], [`error`], [`aggregate`].
//! - Commands and reads: [`enqueue`], [`lease`] (claiming), [`finish`] (a lease holder's
//!   final write, batched), [`query`], [`retention`],
//!   [`change`] (the change feed).
//! - Rules: [`transition`] (one pure function per state-machine transition), [`retry`]
//!   (backoff), [`limits`] (validation), [`channel`].
//! - Events: [`event`] (host and lifecycle events), [`entry`] (normalized event entries),
//!   [`live`] (live messages).
//! - Traits: [`store`] ([`TaskStore`], [`TaskStoreExt`]), [`executor`] ([`TaskExecutor`]),
//!   [`clock`] ([`Clock`]), [`capability`], [`cancel`] (cancellation signal).
//!
//! # Wire shape
//!
//! Every serialized type uses the camelCase field names of the TypeScript package this project
//! mirrors, and timestamps are RFC 3339 UTC strings with milliseconds, so a front end written
//! against that package reads these values as they are.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aggregate;
pub mod cancel;
pub mod capability;
pub mod change;
pub mod channel;
pub mod clock;
pub mod enqueue;
pub mod entry;
pub mod error;
pub mod event;
pub mod executor;
pub mod finish;
pub mod id;
pub mod lease;
pub mod limits;
pub mod live;
pub mod query;
pub mod record;
pub mod retention;
pub mod retry;
mod serde_ms;
pub mod snapshot;
pub mod status;
pub mod step;
pub mod store;
pub mod timestamp;
pub mod transition;
pub mod warning;

pub use aggregate::{StateCounts, StatusCounts, TaskAggregate};
pub use cancel::{CancelHandle, CancelSignal};
pub use capability::Capabilities;
pub use change::{Change, ChangeCursor, ChangeKind, ChangePage};
pub use channel::{normalize_channel, normalize_channels, task_channel};
pub use clock::{Clock, ManualClock, SystemClock};
pub use enqueue::{EnqueueDisposition, EnqueueOptions, EnqueueOutcome, NewTask};
pub use entry::{
    TaskEventEntry, TaskEventEntryType, host_event_adapter, lifecycle_event_adapter,
    normalize_host_event_entry, normalize_lifecycle_event_entry,
};
pub use error::{InvalidInput, StoreError, StoreErrorKind, TaskError, TransitionRefusal};
pub use event::{
    HostEventType, LifecycleEventName, LifecycleEventType, TaskHostEvent, TaskLifecycleEvent,
};
pub use executor::{
    BoxFuture, Execution, ExecutionOutcome, ReportError, TaskExecutor, TaskInvocation, TaskReporter,
};
pub use finish::Finish;
pub use id::{LeaseToken, StepId, TaskId};
pub use lease::{
    ClaimRequest, ClaimedStart, FinishedAndClaimed, KindClaim, KindLimits, KindSelector, Lease,
};
pub use live::{TaskLiveMessage, TaskSubscriptionBootstrap};
pub use query::{
    SnapshotOptions, SnapshotQuery, StepQuery, SubscriptionQuery, TaskFilter, TaskListQuery,
    TaskOrder,
};
pub use record::{JsonObject, TaskRecord};
pub use retention::{RetentionPolicy, RetentionReport};
pub use retry::{Backoff, RandomSource, SeededRandom};
pub use snapshot::{ProgressUpdate, TaskProgressState, TaskSnapshot};
pub use status::{LifecycleState, TaskStatus};
pub use step::{NewStep, StepKind, StepLevel, StepRecord};
pub use store::{AppendedSteps, TaskStore, TaskStoreExt};
pub use timestamp::Timestamp;
pub use warning::StoreWarning;
