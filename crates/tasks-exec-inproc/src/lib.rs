#![doc = include_str!("../README.md")]
//!
//! # Map
//!
//! - [`handler`]: the typed [`TaskHandler`] trait and [`handler_fn`] for async closures.
//! - [`context`]: the [`TaskContext`] a handler receives (identity, reports, cancellation).
//! - [`failure`]: [`TaskFailure`], what a handler returns when an attempt fails.
//! - [`run`]: [`run_handler`], one attempt from raw invocation to [`ExecutionOutcome`]
//!   (input decoding, panics, output encoding), free of any async runtime so a child process
//!   can run the same handler.
//! - [`executor`]: [`InProcessExecutor`], the [`TaskExecutor`] a host registers per kind.
//!
//! [`ExecutionOutcome`]: tasks_core::ExecutionOutcome
//! [`TaskExecutor`]: tasks_core::TaskExecutor

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod catch;
pub mod context;
pub mod executor;
pub mod failure;
pub mod handler;
pub mod run;

pub use context::TaskContext;
pub use executor::{InProcessExecutor, from_fn};
pub use failure::TaskFailure;
pub use handler::{FnHandler, TaskHandler, handler_fn};
pub use run::{INVALID_INPUT_CODE, INVALID_OUTPUT_CODE, PANIC_CODE, run_handler};
