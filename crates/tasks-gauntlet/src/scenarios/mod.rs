//! Every scenario of the gauntlet, in the order they run.
//!
//! The list is split in two files so that two people can work on the gauntlet at once:
//! `faults` (processes, kills, fencing, restarts, a stalled network, long transactions) and
//! `abuse` (races, a full disk, floods, bad input, fuzzing).

mod abuse;
mod faults;

use crate::Scenario;

/// Every scenario, faults first.
pub fn all() -> Vec<Scenario> {
    let mut scenarios = faults::scenarios();
    scenarios.extend(abuse::scenarios());
    scenarios
}
