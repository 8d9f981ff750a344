//! Helpers of the abuse scenarios (races, a full disk, floods, bad input, fuzzing): the store
//! under test and its independent SQL probe, a runtime for hosts, latency statistics, a small
//! disk to fill, and the fuzz targets with their input generator.
//!
//! Only [`fuzz`] is public: the `gauntlet-fuzz` binary and the cargo-fuzz targets in `fuzz/`
//! run the same target bodies as the scenario.

pub mod fuzz;
pub(crate) mod probe;
pub(crate) mod runtime;
pub(crate) mod stats;
pub(crate) mod store;
pub(crate) mod tmpfs;
