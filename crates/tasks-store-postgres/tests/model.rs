//! The model-based test of `tasks-testkit`: random command sequences against this store and
//! the reference model, on a fresh schema per case. `TASKS_MODEL_CASES` sets the number of
//! cases (256 by default).

mod support;

tasks_testkit::model_test!(support::fixture);
