#![doc = include_str!("../README.md")]
//!
//! # Map
//!
//! - [`executor`]: [`ProcessExecutor`], the [`TaskExecutor`](tasks_core::TaskExecutor) a host
//!   registers per kind, and its configuration; [`mod@env`]: [`EnvPolicy`] and the secret-name
//!   rule; [`limits`]: [`OutputLimits`].
//! - [`protocol`]: the stdout [`Message`]s both sides speak.
//! - [`child`]: the child side for Rust programs, [`child::run`].
//! - [`outcome`]: the error codes of a failed attempt, and the rules that decide an outcome.
//! - Inside: one attempt from spawn to outcome (`run`), the bounded line reader (`lines`),
//!   stdout handling (`output`), the stderr tail (`stderr`) and process-group signals
//!   (`group`).
//!
//! # Architecture invariants
//!
//! - Nothing a child writes is buffered without bound: one line is cut at
//!   [`OutputLimits::max_line_bytes`], stderr keeps a tail, plain lines past
//!   [`OutputLimits::max_log_steps`] are only counted.
//! - Every child is waited for, and its process group killed once it ends or is dropped.
//! - The only `unsafe` is in dependencies (`nix`, `tokio`); this crate forbids it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod child;
pub mod env;
pub mod executor;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod group;
pub mod limits;
mod lines;
pub mod outcome;
mod output;
pub mod protocol;
mod run;
mod stderr;

pub use env::{EnvPolicy, SECRET_NAME_PARTS, is_secret_name};
pub use executor::ProcessExecutor;
pub use limits::OutputLimits;
pub use outcome::{
    EXIT_CODE, RESULT_TOO_LARGE_CODE, RESULT_UNREADABLE_CODE, SIGNAL_CODE, SPAWN_FAILED_CODE,
};
pub use protocol::{ErrorMessage, Message, ResultMessage};
pub use run::DRAIN_TIMEOUT;
