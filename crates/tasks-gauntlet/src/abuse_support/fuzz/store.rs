//! Generated task queries against a real store: every query that decodes is listed and
//! aggregated. Promises: the store answers or refuses with `InvalidInput` (never a backend
//! error, which would mean a query reached SQL it should not have), a page holds at most its
//! limit, and every task listed passes core's own filter (the SQL agrees with the model).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use tasks_core::{StoreErrorKind, TaskListQuery, TaskStore};

use super::mutate::Mutator;
use super::{FuzzStats, Target, panic_text};

/// Fuzzes `store` with task queries for `duration` from `seed`; stops at the first finding.
pub(crate) fn fuzz_store_queries(
    store: &dyn TaskStore,
    duration: Duration,
    seed: u64,
) -> FuzzStats {
    let started = Instant::now();
    let mut mutator = Mutator::new(Target::TaskQuery, seed);
    let mut stats = FuzzStats::default();
    while started.elapsed() < duration {
        let input = mutator.next_input();
        let Ok(query) = serde_json::from_slice::<TaskListQuery>(&input) else { continue };
        stats.inputs += 1;
        stats.largest_input = stats.largest_input.max(input.len());
        let begun = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| one(store, &query)));
        stats.slowest_input_us = stats.slowest_input_us.max(begun.elapsed().as_micros() as u64);
        let finding = match outcome {
            Ok(Ok(true)) => {
                stats.accepted += 1;
                mutator.keep(input);
                continue;
            }
            Ok(Ok(false)) => continue,
            Ok(Err(broken)) => broken,
            Err(payload) => format!("panic: {}", panic_text(payload.as_ref())),
        };
        let shown = String::from_utf8_lossy(&input[..input.len().min(2048)]).into_owned();
        stats.finding = Some(format!("{finding}; query: {shown}"));
        break;
    }
    stats.elapsed_ms = started.elapsed().as_millis() as u64;
    stats
}

fn one(store: &dyn TaskStore, query: &TaskListQuery) -> Result<bool, String> {
    let refused = |error: tasks_core::StoreError| {
        if error.kind() == StoreErrorKind::InvalidInput {
            Ok(false)
        } else {
            Err(format!("the store failed with {:?}: {error}", error.kind()))
        }
    };
    let records = match store.list(query) {
        Ok(records) => records,
        Err(error) => return refused(error),
    };
    let Ok((filter, limit)) = query.normalized() else {
        return Err("the store listed a query core refuses".into());
    };
    if records.len() > limit as usize {
        return Err(format!("{} tasks listed over a limit of {limit}", records.len()));
    }
    if let Some(stray) = records.iter().find(|record| !filter.matches(record)) {
        return Err(format!("task {} was listed but does not pass the filter", stray.id));
    }
    match store.aggregate(&query.filter) {
        Ok(aggregate) => {
            if query.offset.unwrap_or(0) == 0 && (aggregate.total as usize) < records.len() {
                return Err(format!(
                    "the aggregate counts {} tasks, the list shows {}",
                    aggregate.total,
                    records.len()
                ));
            }
            Ok(true)
        }
        Err(error) => refused(error),
    }
}
