//! What the fault scenarios share: worker processes and their history logs, stores and
//! PostgreSQL clusters, a TCP proxy that can stall and drop, a store that times its calls, and
//! small statistics.
//!
//! - [`history`]: the history log every worker appends to, and the checker.
//! - [`worker`] (parent side) and [`worker_main`] (the `gauntlet-worker` binary): host
//!   processes a scenario can kill, freeze and thaw.
//! - [`work`]: the one kind the workers run, and what its input asks.
//! - [`inproc`]: hosts inside the scenario process.
//! - [`stores`]: the store a scenario's processes share, and clusters of its own.
//! - [`observed`]: a store decorator that reports every call.
//! - [`proxy`]: a TCP proxy that can stall and cut.
//! - [`probe`]: reading a store from the outside, waiting until every task finished.
//! - [`wait`]: polling with patience, and percentiles.

pub mod history;
pub mod inproc;
pub mod observed;
pub mod probe;
pub mod proxy;
pub mod stores;
pub mod wait;
pub mod work;
pub mod worker;
pub mod worker_main;
