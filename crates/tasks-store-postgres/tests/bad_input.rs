//! Bad input at the edges of the store: hostile or over-long schema and prefix options are
//! refused before any SQL is sent, and an unreachable server gives a typed error that names
//! host and port and never the password.

use tasks_store_postgres::{
    PostgresErrorKind, PostgresStoreOptions, PostgresTaskStore, prepare_schema, schema_sql,
};

fn options() -> PostgresStoreOptions {
    // Port 1 on the loopback: nothing listens there, and nothing here should even try.
    PostgresStoreOptions::from_url("postgres://app:s3cr3t-pw@127.0.0.1:1/tasks").expect("valid url")
}

const HOSTILE: &[&str] = &[
    "",
    "Tasks",
    "9lives",
    "tasks; DROP TABLE users; --",
    "a\"b",
    "a'b",
    "a b",
    "a.b",
    "a-b",
    "tâches",
    "a\0b",
    "pg_toast",
];

#[test]
fn hostile_schema_names_are_refused_everywhere() {
    for schema in HOSTILE {
        let options = options().schema(*schema);
        let kind = PostgresErrorKind::InvalidIdentifier;
        assert_eq!(options.validate().expect_err(schema).kind(), kind, "{schema:?}");
        assert_eq!(schema_sql(&options).expect_err(schema).kind(), kind, "{schema:?}");
        assert_eq!(prepare_schema(&options).expect_err(schema).kind(), kind, "{schema:?}");
        assert_eq!(
            PostgresTaskStore::connect(options).expect_err(schema).kind(),
            kind,
            "{schema:?}"
        );
    }
}

#[test]
fn hostile_prefixes_are_refused_everywhere() {
    for prefix in HOSTILE.iter().filter(|prefix| **prefix != "pg_toast") {
        let options = options().table_prefix(*prefix);
        let kind = PostgresErrorKind::InvalidIdentifier;
        assert_eq!(schema_sql(&options).expect_err(prefix).kind(), kind, "{prefix:?}");
        assert_eq!(prepare_schema(&options).expect_err(prefix).kind(), kind, "{prefix:?}");
        assert_eq!(
            PostgresTaskStore::connect(options).expect_err(prefix).kind(),
            kind,
            "{prefix:?}"
        );
    }
}

#[test]
fn identifiers_over_63_bytes_are_refused() {
    let longest = tasks_store_postgres::ident::max_prefix_bytes();
    assert!(schema_sql(&options().table_prefix("p".repeat(longest))).is_ok());
    let too_long = options().table_prefix("p".repeat(longest + 1));
    assert_eq!(
        schema_sql(&too_long).expect_err("long").kind(),
        PostgresErrorKind::InvalidIdentifier
    );
    assert!(schema_sql(&options().schema("s".repeat(63))).is_ok());
    let too_long = options().schema("s".repeat(64));
    assert_eq!(
        schema_sql(&too_long).expect_err("long").kind(),
        PostgresErrorKind::InvalidIdentifier
    );
}

#[test]
fn unreachable_server_names_host_and_port_without_the_password() {
    for result in [PostgresTaskStore::connect(options()).map(|_| ()), prepare_schema(&options())] {
        let err = result.expect_err("nothing listens on port 1");
        assert_eq!(err.kind(), PostgresErrorKind::Unreachable);
        match &err {
            tasks_store_postgres::PostgresError::Unreachable { host, port, .. } => {
                assert_eq!((host.as_str(), *port), ("127.0.0.1", 1));
            }
            other => panic!("expected Unreachable, got {other:?}"),
        }
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains("s3cr3t-pw"), "the password leaked: {text}");
        }
        let store_err = tasks_core::StoreError::from(err);
        assert_eq!(store_err.kind(), tasks_core::StoreErrorKind::Unavailable);
        assert!(!format!("{store_err} {store_err:?}").contains("s3cr3t-pw"));
    }
}
