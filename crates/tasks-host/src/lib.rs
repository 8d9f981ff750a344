//! The runtime that claims and runs tasks (see the host issue).
//!
//! This crate is a skeleton until its issue lands; it only re-exports `tasks-core`.

#![forbid(unsafe_code)]

pub use tasks_core as core;
