//! Shared by the integration tests: a store on a fresh schema of the test server, or a
//! clean exit with a loud message when there is no PostgreSQL (a panic under `CI=true`,
//! raised by the harness).

#![allow(dead_code)]

use tasks_store_postgres::PostgresTaskStore;
use tasks_store_postgres::testing::{self, SchemaGuard};
use tasks_testkit::WithGuard;

/// A store on a fresh schema. Without a server this ends the test binary successfully after
/// the harness's loud message: the macro-generated tests cannot skip one by one.
pub(crate) fn fixture() -> WithGuard<SchemaGuard, PostgresTaskStore> {
    match testing::fresh_store() {
        Some((store, guard)) => WithGuard { store, guard },
        None => {
            eprintln!("!!! no PostgreSQL: ending this test binary without running its tests");
            std::process::exit(0);
        }
    }
}

/// A store on a fresh schema, or `None` (after the harness's loud message) to skip.
pub(crate) fn store() -> Option<WithGuard<SchemaGuard, PostgresTaskStore>> {
    testing::fresh_store().map(|(store, guard)| WithGuard { store, guard })
}
