//! Reading a scenario's store from the outside (its own connection, no host): every record,
//! counts by status, and waiting until every task has finished while the workers make progress.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tasks_core::{TaskAggregate, TaskFilter, TaskListQuery, TaskOrder, TaskRecord, TaskStore};

use crate::Violation;

/// Every record of the store, by id (paged, oldest first).
///
/// # Errors
///
/// The store failed.
pub fn all_records(store: &dyn TaskStore) -> Result<HashMap<String, TaskRecord>, Violation> {
    const PAGE: u32 = 10_000;
    let mut records = HashMap::new();
    let mut offset = 0u32;
    loop {
        let query = TaskListQuery::all().order(TaskOrder::CreatedAsc).limit(PAGE).offset(offset);
        let page = store.list(&query)?;
        let count = page.len();
        for record in page {
            records.insert(record.id.to_string(), record);
        }
        if count < PAGE as usize {
            return Ok(records);
        }
        offset += PAGE;
    }
}

/// The store's counts.
///
/// # Errors
///
/// The store failed.
pub fn counts(store: &dyn TaskStore) -> Result<TaskAggregate, Violation> {
    Ok(store.aggregate(&TaskFilter::all())?)
}

/// Tasks finished (succeeded, failed or cancelled).
pub fn finished(counts: &TaskAggregate) -> u64 {
    counts.by_status.succeeded + counts.by_status.failed + counts.by_status.cancelled
}

/// Waits until `expected` tasks have finished, as long as the count keeps moving: fails when
/// nothing finished for `stall` (the workers are stuck), or when `give_up` passes. Calls
/// `between` on every poll (a scenario's chaos: kills, restarts), with the counts it saw.
///
/// # Errors
///
/// The store failed (and stayed failing for `stall`), no progress for `stall`, the total
/// time ran out, or `between` failed.
pub fn wait_until_finished(
    store: &dyn TaskStore,
    expected: u64,
    stall: Duration,
    give_up: Duration,
    mut between: impl FnMut(Option<&TaskAggregate>) -> Result<(), Violation>,
) -> Result<TaskAggregate, Violation> {
    let started = Instant::now();
    let mut last_change = Instant::now();
    let mut last_finished = 0u64;
    let mut last_error = String::new();
    loop {
        let seen = match counts(store) {
            Ok(counts) => Some(counts),
            // The store may be down on purpose (a restart scenario): keep polling.
            Err(error) => {
                last_error = error.0;
                None
            }
        };
        if let Some(counts) = &seen {
            let done = finished(counts);
            if done >= expected {
                return Ok(counts.clone());
            }
            if done != last_finished {
                last_finished = done;
                last_change = Instant::now();
            }
        }
        between(seen.as_ref())?;
        if last_change.elapsed() > stall {
            return Err(Violation(format!(
                "no task finished for {} s: {last_finished} of {expected} done{}",
                stall.as_secs(),
                if seen.is_none() {
                    format!(" (the store fails: {last_error})")
                } else {
                    String::new()
                }
            )));
        }
        if started.elapsed() > give_up {
            return Err(Violation(format!(
                "gave up after {} s: {last_finished} of {expected} tasks done",
                give_up.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
