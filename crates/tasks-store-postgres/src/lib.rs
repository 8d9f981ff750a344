#![doc = include_str!("../README.md")]
//!
//! # Map
//!
//! - Setting up: [`options`] ([`PostgresStoreOptions`], [`PoolOptions`]), [`ident`]
//!   (validation of schema and prefix), [`schema`] ([`prepare_schema`], [`schema_sql`]),
//!   [`error`] ([`PostgresError`]).
//! - The store: `store` ([`PostgresTaskStore`], pools and the retry loop), `task_store` (the
//!   `TaskStore` impl), `enqueue` (with transactional enqueue), `claim`, `worker` (lease-fenced
//!   writes), `fast` (heartbeat, progress, steps and complete as one statement each), `batch`
//!   (`start_batch` and `finish_batch`), `retry` (an operator's retry), `maintenance`,
//!   `reads`, `changes` (the change feed), [`notify`] (LISTEN/NOTIFY wake-ups), `health`
//!   (warnings: a long-open transaction).
//! - Plumbing: `session` (a connection whose every request has a deadline), `pool`
//!   (sessions, statement cache, retry rules), `sql` (fixed SQL texts and the batch writer),
//!   `row` (row decoding, column arrays).
//! - `testing` (feature `testing`): throwaway PostgreSQL clusters for tests.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod batch;
mod changes;
mod claim;
mod enqueue;
pub mod error;
mod fast;
mod finish_claim;
mod health;
pub mod ident;
mod maintenance;
pub mod notify;
pub mod options;
mod pool;
mod reads;
mod retry;
mod row;
pub mod schema;
mod session;
mod sql;
mod store;
mod task_store;
#[cfg(feature = "testing")]
pub mod testing;
mod worker;

pub use error::{Endpoint, PostgresError, PostgresErrorKind};
pub use notify::{WakeupListener, Wakeups};
pub use options::{PoolOptions, PostgresStoreOptions};
pub use schema::{SCHEMA_VERSION, prepare_schema, schema_sql};
pub use store::PostgresTaskStore;
pub use tasks_core as core;
