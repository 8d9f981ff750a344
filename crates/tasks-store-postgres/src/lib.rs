//! The PostgreSQL task store for many processes on many machines (see the Postgres store issue).
//!
//! This crate is a skeleton until its issue lands; it only re-exports `tasks-core`.

#![forbid(unsafe_code)]

pub use tasks_core as core;
