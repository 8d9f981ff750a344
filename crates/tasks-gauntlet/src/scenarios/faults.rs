//! Gauntlet scenarios: faults.

use crate::Scenario;

/// The scenarios of this file.
pub(crate) fn scenarios() -> Vec<Scenario> {
    Vec::new()
}
