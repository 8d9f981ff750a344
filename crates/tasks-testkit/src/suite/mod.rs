//! The store conformance suite: one public function per behaviour of the
//! [`TaskStore`] contract, each taking a fresh store and asserting on results and on error
//! kinds ([`StoreErrorKind`](tasks_core::StoreErrorKind)), never on message text.
//!
//! Each function's first doc line quotes the `# Behavior` line of `tasks_core::store` (or the
//! rule of `enqueue`, `lease`, `retention` or `change` in core) that it checks. Time is passed
//! as `now`, from a fixed instant (2026-01-01T00:00:00Z) plus offsets: no behaviour sleeps or
//! reads a clock. Ids are caller-chosen where that makes an assertion clearer.
//!
//! Run them all with [`store_conformance!`](crate::store_conformance) (one named `#[test]`
//! each), or iterate [`BEHAVIOURS`] to drive them yourself.
//!
//! Areas: enqueue; dedupe and supersede; reads (get, list, filters, orders, pages); claim;
//! lease fencing; worker writes (heartbeat, progress, steps); finish, retry, cancel, release;
//! batched starts and finishes; operator retries;
//! expired-lease recovery and stale marks; aggregate; retention; revision; change feed;
//! concurrent claimers; bad input.

use tasks_core::TaskStore;

mod aggregate;
mod bad_input;
mod batch;
mod change_feed;
mod claim;
mod concurrency;
mod dedupe_supersede;
mod enqueue;
mod finish_and_claim;
mod finish_retry_cancel;
mod lease_fencing;
mod macros;
mod read_list;
mod recovery_stale;
mod retention;
mod retry;
mod revision;
mod support;
mod worker_writes;
mod zoo;

pub use aggregate::*;
pub use bad_input::*;
pub use batch::*;
pub use change_feed::*;
pub use claim::*;
pub use concurrency::*;
pub use dedupe_supersede::*;
pub use enqueue::*;
pub use finish_and_claim::*;
pub use finish_retry_cancel::*;
pub use lease_fencing::*;
pub use read_list::*;
pub use recovery_stale::*;
pub use retention::*;
pub use retry::*;
pub use revision::*;
pub use worker_writes::*;

/// A behaviour of the suite: panics when the store breaks the contract.
pub type Behaviour = fn(&dyn TaskStore);

/// Every behaviour, by name, in the order of the suite: the same list
/// [`store_conformance!`](crate::store_conformance) turns into tests.
pub const BEHAVIOURS: &[(&str, Behaviour)] = crate::__conformance_behaviours!(@table);
