//! Gauntlet scenarios: abuse. Races on the store's invariants (6), a full disk under SQLite
//! (8), floods of reports (9), bad input (10) and fuzzing of the parsers (11); one module each
//! under `abuse/`, sharing the helpers in [`crate::abuse_support`].

mod bad_input;
mod disk_full;
mod floods;
mod fuzz;
mod races;

use crate::{Scenario, StoreKind};

/// The scenarios of this file.
pub(crate) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario { name: "races", stores: &StoreKind::ALL, run: races::run },
        Scenario { name: "disk-full", stores: &[StoreKind::Sqlite], run: disk_full::run },
        Scenario { name: "floods", stores: &StoreKind::ALL, run: floods::run },
        Scenario { name: "bad-input", stores: &StoreKind::ALL, run: bad_input::run },
        Scenario { name: "fuzz", stores: &StoreKind::ALL, run: fuzz::run },
    ]
}
