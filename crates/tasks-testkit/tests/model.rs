//! The model-based test on the reference store itself, through `model_test!` exactly as a
//! third-party store would call it (and as `Arc<dyn TaskStore>`).
//!
//! The reference compared with itself can only catch a panic, a nondeterministic result or a
//! macro that no longer compiles against a plain or boxed store; it checks the harness, not the
//! model. Divergences are caught where real stores run this test (the SQLite and Postgres
//! crates), and `tests/broken_store.rs` shows the harness notices a wrong store.

tasks_testkit::model_test!(tasks_testkit::MemoryStore::new);

mod as_arc_dyn {
    tasks_testkit::model_test!(|| -> std::sync::Arc<dyn tasks_core::TaskStore> {
        std::sync::Arc::new(tasks_testkit::MemoryStore::new())
    });
}
