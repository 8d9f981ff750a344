#![doc = include_str!("../README.md")]
//!
//! # Map
//!
//! - [`host`]: [`TaskHost`], the Core API; [`builder`]: [`TaskHostBuilder`].
//! - [`options`]: [`RunnerOptions`]; [`registration`]: [`HandlerRegistration`] and
//!   [`RetryPolicy`].
//! - [`state`]: [`HostState`]; [`error`]: [`HostError`]; [`events`]: listeners and their
//!   [`Subscription`]; [`wake`]: [`ClaimWaker`], the hook for store notifications.
//! - Inside: the claim loop (`claim`), one attempt from its start to its final write
//!   (`attempt`), the burst writer of final writes (`burst`: one `finish_batch` for whatever
//!   came while the previous one was written), the
//!   watchdog, recovery and retention loops (`maintenance`), start and stop (`lifecycle`), and
//!   the blocking-thread store caller (`blocking`).
//!
//! # Architecture invariants
//!
//! - Every store call runs on tokio's blocking pool, never on a runtime worker; the host's last
//!   reference to its store is dropped on a plain thread.
//! - A claim asks for exactly the host's free slots, in one store call, for the kinds it
//!   handles only, and starts what it took in the same call (`claim_and_start`).
//! - Final writes (complete, fail, acknowledge a cancel) go through the burst writer: a write
//!   never waits on a timer, only for the write in flight; each item is fenced and answered on
//!   its own, and its event is told after the store answered.
//! - Worker writes of one attempt are made by one task, in order; a `LeaseLost` stops the
//!   execution and nothing more is written for that attempt.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attempt;
mod blocking;
pub mod builder;
mod burst;
mod claim;
pub mod error;
pub mod events;
pub mod host;
mod inner;
mod lifecycle;
mod maintenance;
pub mod options;
pub mod registration;
mod slots;
pub mod state;
pub mod wake;

pub use attempt::{TIMEOUT_CODE, UNKNOWN_KIND_CODE};
pub use builder::TaskHostBuilder;
pub use error::{HostError, HostErrorKind};
pub use events::Subscription;
pub use host::TaskHost;
pub use options::RunnerOptions;
pub use registration::{HandlerRegistration, RetryPolicy};
pub use state::{HostState, HostStatus};
pub use wake::ClaimWaker;
