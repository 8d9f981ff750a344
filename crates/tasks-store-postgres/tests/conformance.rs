//! The conformance suite of `tasks-testkit`, run against a real PostgreSQL (one fresh schema
//! per behaviour, so the behaviours run in parallel).

mod support;

tasks_testkit::store_conformance!(support::fixture);
