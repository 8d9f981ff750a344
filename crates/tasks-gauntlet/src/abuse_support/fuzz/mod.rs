//! Fuzzing the parsers that read outside input: the child-process stdout protocol
//! (`tasks-exec-process`), live messages as a client decodes and applies them (`tasks-live`),
//! and queries (a subscription's query string or JSON body, as the HTTP bridge reads them, and
//! a task list query as `tasks-core` validates it).
//!
//! [`check`] runs one input through a target and says whether a promise broke (a panic is
//! caught by the caller); [`fuzz_for`] feeds a target generated inputs for a bounded time,
//! mutating a corpus of valid examples. The [`child`] runs [`fuzz_for`] in a process of its
//! own under an address-space limit, so an unbounded allocation ends as a crash the scenario
//! sees; the cargo-fuzz targets in `fuzz/` call [`check`] under libFuzzer.

pub mod child;
mod mutate;
mod seeds;
mod store;
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub(crate) use store::fuzz_store_queries;
pub use targets::check;

/// A parser under fuzzing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// A child's stdout, read by the process executor's line reader and protocol rules.
    ProcessStdout,
    /// A live message decoded from JSON and applied to a tracker, twice.
    LiveMessage,
    /// A subscription query from a URL query string or a JSON body, then normalized.
    SubscriptionQuery,
    /// A task list query decoded from JSON and validated.
    TaskQuery,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 4] =
        [Target::ProcessStdout, Target::LiveMessage, Target::SubscriptionQuery, Target::TaskQuery];

    /// The target's name (the cargo-fuzz target and the `gauntlet-fuzz` argument).
    pub fn name(self) -> &'static str {
        match self {
            Target::ProcessStdout => "process-stdout",
            Target::LiveMessage => "live-message",
            Target::SubscriptionQuery => "subscription-query",
            Target::TaskQuery => "task-query",
        }
    }

    /// The target named `name`.
    pub fn named(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|target| target.name() == name)
    }
}

/// What a bounded fuzzing run did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FuzzStats {
    /// Inputs run.
    pub inputs: u64,
    /// How long the run took, in milliseconds.
    pub elapsed_ms: u64,
    /// The largest input, in bytes.
    pub largest_input: usize,
    /// The slowest input, in microseconds.
    pub slowest_input_us: u64,
    /// Inputs the target accepted (decoded and took), as opposed to refused.
    pub accepted: u64,
    /// The first broken promise or panic, with the input that caused it (cut for display).
    pub finding: Option<String>,
    /// The whole input of the finding.
    #[serde(skip)]
    pub finding_input: Option<Vec<u8>>,
}

/// The valid examples `target`'s generated inputs start from (a cargo-fuzz seed corpus).
pub fn seed_corpus(target: Target) -> Vec<Vec<u8>> {
    seeds::corpus(target)
}

/// Fuzzes `target` for `duration` from `seed`: mutated corpus inputs, each through [`check`];
/// stops at the first finding (a broken promise or a panic).
pub fn fuzz_for(target: Target, duration: Duration, seed: u64) -> FuzzStats {
    let started = Instant::now();
    let mut mutator = mutate::Mutator::new(target, seed);
    let mut stats = FuzzStats::default();
    while started.elapsed() < duration {
        let input = mutator.next_input();
        stats.largest_input = stats.largest_input.max(input.len());
        let begun = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| check(target, &input)));
        let took = begun.elapsed().as_micros() as u64;
        stats.slowest_input_us = stats.slowest_input_us.max(took);
        stats.inputs += 1;
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
        stats.finding = Some(format!("{finding}; input ({} bytes): {shown:?}", input.len()));
        stats.finding_input = Some(input);
        break;
    }
    stats.elapsed_ms = started.elapsed().as_millis() as u64;
    stats
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-text payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_is_accepted_and_a_short_run_finds_nothing() {
        for target in Target::ALL {
            for seed in seeds::corpus(target) {
                assert_eq!(
                    check(target, &seed),
                    Ok(true),
                    "{target:?}: {}",
                    String::from_utf8_lossy(&seed)
                );
            }
            let stats = fuzz_for(target, Duration::from_millis(200), 7);
            assert!(stats.finding.is_none(), "{target:?}: {:?}", stats.finding);
            assert!(stats.inputs > 0);
            assert_eq!(Target::named(target.name()), Some(target));
        }
    }
}
