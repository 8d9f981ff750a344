//! Comparison of what the store under test and the model answered. Lease tokens and step ids
//! are generated independently on each side, so they are compared by presence only.

use tasks_core::{StepRecord, StoreError, TaskRecord};

/// A record with its generated parts blanked.
pub(super) fn comparable(record: &TaskRecord) -> TaskRecord {
    let mut record = record.clone();
    record.lease_token = record
        .lease_token
        .as_ref()
        .map(|_| tasks_core::LeaseToken::from_stored("present".to_owned()));
    record
}

/// A step with its generated id blanked.
pub(super) fn comparable_step(step: &StepRecord) -> StepRecord {
    let mut step = step.clone();
    step.id = tasks_core::StepId::from_stored(String::new());
    step
}

/// A result with records made comparable and errors reduced to their kind.
pub(super) fn outcome<T, U: PartialEq + std::fmt::Debug>(
    result: &Result<T, StoreError>,
    view: impl Fn(&T) -> U,
) -> Result<U, tasks_core::StoreErrorKind> {
    match result {
        Ok(value) => Ok(view(value)),
        Err(error) => Err(error.kind()),
    }
}
