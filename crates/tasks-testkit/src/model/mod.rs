//! The model-based test: random command sequences (enqueue, claim, heartbeat, progress, step,
//! finish, fail, cancel, supersede, release, operator retry, batched starts and finishes,
//! clock advance, lease recovery, stale marking, retention) applied both to a store under test
//! and to the reference model, a [`MemoryStore`](crate::MemoryStore) built on `tasks-core`'s
//! pure transitions. After every command the two results are compared (records, steps, error
//! kinds), and at the end the whole contents.
//!
//! [`model_test!`](crate::model_test) emits the `#[test]`; [`run`] is the function behind it.
//! The number of cases is 256, or `TASKS_MODEL_CASES` when set; the sequences come from a
//! fixed seed (reproducible in CI), or `TASKS_MODEL_SEED` when set.

mod command;
mod compare;
mod harness;

pub use harness::{run, run_cases};

/// Emits `#[test] fn model_based_store_matches_reference()` for a store factory, which is
/// called once per generated case (a fresh store each time).
#[macro_export]
macro_rules! model_test {
    ($factory:expr) => {
        #[test]
        fn model_based_store_matches_reference() {
            $crate::model::run(|| ($factory)());
        }
    };
}
