//! The in-process executor: Rust handlers on the host's tokio runtime (see the host issue).
//!
//! This crate is a skeleton until its issue lands; it only re-exports `tasks-core`.

#![forbid(unsafe_code)]

pub use tasks_core as core;
