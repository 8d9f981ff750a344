//! The child-process executor speaking a JSON-lines protocol (see the process executor issue).
//!
//! This crate is a skeleton until its issue lands; it only re-exports `tasks-core`.

#![forbid(unsafe_code)]

pub use tasks_core as core;
