//! The names most programs use, for `use tasks::prelude::*;`: the host and its options, the
//! values of the data model, the store traits, the factory, and (behind their features) the
//! executors and the live hub.

pub use crate::factory::{
    AnyTaskStore, Driver, StoreConfig, StoreFactoryError, create_task_store,
    prepare_task_store_schema, task_store_schema,
};
pub use tasks_core::{
    EnqueueDisposition, EnqueueOptions, EnqueueOutcome, LifecycleEventName, LifecycleState,
    NewStep, NewTask, ProgressUpdate, RetentionPolicy, SnapshotOptions, SnapshotQuery, StepKind,
    StepLevel, StepRecord, StoreError, SubscriptionQuery, TaskAggregate, TaskError, TaskFilter,
    TaskId, TaskLifecycleEvent, TaskListQuery, TaskRecord, TaskSnapshot, TaskStatus, TaskStore,
    TaskStoreExt, Timestamp,
};
pub use tasks_host::{HandlerRegistration, HostError, RetryPolicy, RunnerOptions, TaskHost};

#[cfg(feature = "inproc")]
pub use tasks_exec_inproc::{InProcessExecutor, TaskContext, TaskFailure, TaskHandler, from_fn};
#[cfg(feature = "process")]
pub use tasks_exec_process::{EnvPolicy, ProcessExecutor};
#[cfg(feature = "live")]
pub use tasks_live::{LiveSource, TaskLiveHub, TaskLiveTracker};
