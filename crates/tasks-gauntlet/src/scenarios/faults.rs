//! Gauntlet scenarios: faults. Processes that die, freeze, lose their database or their
//! network, and a database held back by a long transaction; each scenario in its own module.
//!
//! - `history` (issue scenario 1): many host processes, every enqueue, start and finish
//!   logged and checked: nothing lost, nothing finished twice.
//! - `sigkill` (2): workers killed mid-task, repeatedly; every task finishes, the rescued
//!   ones as a later attempt that says why.
//! - `fencing` (3): a worker frozen past its lease, its tasks finished elsewhere, then thawed:
//!   its writes change nothing and it stops its executions.
//! - `pg-restart` (4): PostgreSQL crashed and restarted mid-run, twice: the hosts recover on
//!   their own and nothing acknowledged is lost.
//! - `net-stall` (5): the network between a host and PostgreSQL stalls, then drops: no call
//!   blocks past the store's timeouts, leases are not extended, the host recovers.
//! - `long-transaction` (7): a transaction held open on PostgreSQL under load: claim latency
//!   stays bounded and the host warns, naming the cause.

mod fencing;
mod history;
mod long_txn;
mod restart;
mod sigkill;
mod stall;

use crate::{Scenario, StoreKind};

/// The scenarios of this file.
pub(crate) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario { name: "history", stores: &StoreKind::ALL, run: history::run },
        Scenario { name: "sigkill", stores: &StoreKind::ALL, run: sigkill::run },
        Scenario { name: "fencing", stores: &StoreKind::ALL, run: fencing::run },
        Scenario { name: "pg-restart", stores: &[StoreKind::Postgres], run: restart::run },
        Scenario { name: "net-stall", stores: &[StoreKind::Postgres], run: stall::run },
        Scenario { name: "long-transaction", stores: &[StoreKind::Postgres], run: long_txn::run },
    ]
}
