#![doc = include_str!("../README.md")]
//!
//! # Map
//!
//! - [`prelude`]: `use tasks::prelude::*;` brings the names most programs use.
//! - [`factory`]: [`create_task_store`], [`prepare_task_store_schema`], [`task_store_schema`],
//!   [`StoreConfig`], [`AnyTaskStore`], [`Driver`], [`StoreFactoryError`].
//! - The crates themselves: [`core`], [`host`], and behind their features `sqlite`,
//!   `postgres`, `inproc`, `process` and `live`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod factory;
pub mod prelude;

pub use factory::{
    AnyTaskStore, Driver, IntoStoreConfig, PostgresConfig, PreparedSchema, SchemaTarget,
    SqliteConfig, StoreConfig, StoreFactoryError, StoreFactoryErrorKind, StoreListener,
    create_task_store, prepare_task_store_schema, redact_url, task_store_schema,
};

/// The data model, the state machine and the traits ([`tasks_core`]).
pub use tasks_core as core;
/// The runtime: [`TaskHost`](tasks_host::TaskHost) and its options ([`tasks_host`]).
pub use tasks_host as host;

/// Rust handlers run in this process ([`tasks_exec_inproc`]); feature `inproc`.
#[cfg(feature = "inproc")]
pub use tasks_exec_inproc as inproc;
/// Child processes in any language ([`tasks_exec_process`]); feature `process`.
#[cfg(feature = "process")]
pub use tasks_exec_process as process;
/// The live hub and tracker ([`tasks_live`]); feature `live` (its HTTP bridge: `http`).
#[cfg(feature = "live")]
pub use tasks_live as live;
/// The PostgreSQL store ([`tasks_store_postgres`]); feature `postgres`.
#[cfg(feature = "postgres")]
pub use tasks_store_postgres as postgres;
/// The embedded SQLite store ([`tasks_store_sqlite`]); feature `sqlite`.
#[cfg(feature = "sqlite")]
pub use tasks_store_sqlite as sqlite;

/// The workspace README's examples, compiled and run as doctests so they stay true. They use
/// the default features (SQLite, in-process handlers).
#[cfg(all(doctest, feature = "sqlite", feature = "inproc"))]
#[doc = include_str!("../../../README.md")]
pub struct WorkspaceReadmeDoctests;
