//! Live updates for task UIs: the spec's `createTaskLiveTracker` today; the hub, the
//! cross-process feed and the HTTP bridge arrive with the rest of the live issue.
//!
//! - [`TaskLiveTracker`]: applies a bootstrap and then events, keeps the newest snapshot of
//!   every task (by revision, so nothing regresses), accumulates steps by `seq` without
//!   duplicates, recomputes the aggregate from what it holds, and tells change listeners. It
//!   is pure: no runtime, no I/O, usable from any Rust client.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod tracker;

pub use tracker::{TaskLiveTracker, TrackerState};
