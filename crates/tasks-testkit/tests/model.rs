//! The model-based test on the reference store itself, through `model_test!` exactly as a
//! third-party store would call it (and as `Arc<dyn TaskStore>`).

tasks_testkit::model_test!(tasks_testkit::MemoryStore::new);

mod as_arc_dyn {
    tasks_testkit::model_test!(|| -> std::sync::Arc<dyn tasks_core::TaskStore> {
        std::sync::Arc::new(tasks_testkit::MemoryStore::new())
    });
}
