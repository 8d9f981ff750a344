//! The facade: one dependency for the common case (see the CLI issue).
//!
//! This crate is a skeleton until its issue lands; it only re-exports `tasks-core`.

#![forbid(unsafe_code)]

pub use tasks_core as core;
