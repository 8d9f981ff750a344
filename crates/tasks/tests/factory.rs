//! The driver-generic store factory against real stores: SQLite files, and PostgreSQL (a
//! throwaway cluster, or `TASKS_POSTGRES_URL`) when the `postgres` feature is on.

use tasks::{StoreFactoryErrorKind, create_task_store};

#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn now() -> tasks::core::Timestamp {
    tasks::core::Timestamp::now_utc()
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use serde_json::json;
    use tasks::core::{NewTask, TaskStoreExt};
    use tasks::{Driver, SchemaTarget, StoreConfig, prepare_task_store_schema, task_store_schema};

    use super::*;

    #[test]
    fn a_url_creates_a_working_store() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite:{}", dir.path().join("tasks.sqlite").display());
        let prepared = prepare_task_store_schema(&url).expect("prepared");
        assert_eq!(prepared.driver, Driver::Sqlite);
        assert_eq!(prepared.previous_version, Some(0));
        let again = prepare_task_store_schema(&url).expect("idempotent");
        assert_eq!(again.previous_version, Some(again.version));

        let store = create_task_store(&url).expect("created");
        assert_eq!(store.driver(), Some(Driver::Sqlite));
        let queued = store.enqueue(NewTask::new("k", json!({ "n": 1 })), now()).expect("enqueued");
        // The same file through a config, as another process would open it.
        let other = create_task_store(StoreConfig::sqlite(dir.path().join("tasks.sqlite")))
            .expect("opened again");
        let snapshot = other.read_snapshot(&queued.task.id, &Default::default()).expect("read");
        assert_eq!(snapshot.map(|snapshot| snapshot.input), Some(json!({ "n": 1 })));
        assert!(store.listen(|| {}).expect("no listener needed").is_none());
    }

    #[test]
    fn sqlite_urls_come_in_two_spellings() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.sqlite");
        create_task_store(format!("sqlite://{}", path.display())).expect("sqlite:// works");
        assert!(path.is_file());
    }

    #[test]
    fn a_missing_directory_is_unavailable_and_creates_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite:{}", dir.path().join("no/such/t.sqlite").display());
        let err = create_task_store(&url).expect_err("refused");
        assert_eq!(err.kind(), StoreFactoryErrorKind::Unavailable);
        assert!(!dir.path().join("no").exists());
    }

    #[test]
    fn a_file_that_is_not_a_database_is_a_schema_problem() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "plain text, not SQLite").expect("write");
        let err = create_task_store(StoreConfig::sqlite(&path)).expect_err("refused");
        assert_eq!(err.kind(), StoreFactoryErrorKind::Schema);
    }

    #[test]
    fn the_sqlite_schema_is_text_and_takes_no_layout() {
        let sql = task_store_schema(Driver::Sqlite).expect("sql");
        assert!(sql.contains("CREATE TABLE"));
        let err = task_store_schema(SchemaTarget::new(Driver::Sqlite).schema("x")).expect_err("no");
        assert_eq!(err.kind(), StoreFactoryErrorKind::UnsupportedOption);
    }
}

#[test]
fn bad_urls_are_refused_before_anything_is_tried() {
    for url in ["", "tasks.sqlite", "mysql://db/app", "sqlite:", "sqlite::memory:", "postgres:x"] {
        let err = create_task_store(url).expect_err(url);
        assert_eq!(err.kind(), StoreFactoryErrorKind::InvalidUrl, "{url}: {err}");
    }
}

#[cfg(not(feature = "postgres"))]
#[test]
fn a_driver_left_out_of_the_build_names_its_feature() {
    use tasks::{Driver, task_store_schema};
    let err = create_task_store("postgres://app@db/app").expect_err("not built in");
    assert_eq!(err.kind(), StoreFactoryErrorKind::DriverDisabled);
    assert!(err.to_string().contains("enable the `postgres` feature"), "{err}");
    let err = task_store_schema(Driver::Postgres).expect_err("not built in");
    assert_eq!(err.kind(), StoreFactoryErrorKind::DriverDisabled);
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use serde_json::json;
    use tasks::core::NewTask;
    use tasks::{Driver, SchemaTarget, StoreConfig, prepare_task_store_schema, task_store_schema};

    use super::*;

    #[test]
    fn the_postgres_schema_is_text_with_its_layout() {
        let sql = task_store_schema(
            SchemaTarget::new(Driver::Postgres).schema("jobs").table_prefix("tb_"),
        )
        .expect("sql");
        assert!(sql.contains("\"jobs\".\"tb_tasks\""), "{sql}");
        let err = task_store_schema(SchemaTarget::new(Driver::Postgres).table_prefix("no spaces"))
            .expect_err("not an identifier");
        assert_eq!(err.kind(), StoreFactoryErrorKind::InvalidOptions);
    }

    #[test]
    fn an_unreachable_server_is_unavailable_without_its_password() {
        let err = create_task_store("postgres://app:hunter2@127.0.0.1:1/app").expect_err("down");
        assert_eq!(err.kind(), StoreFactoryErrorKind::Unavailable);
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn prepare_then_create_then_listen() {
        // A fresh schema (dropped afterwards on an external server), prepared under the
        // default prefix only: under `fresh_` the store does not exist yet.
        let Some((existing, _guard)) = tasks_store_postgres::testing::fresh_store() else {
            return;
        };
        let schema = existing.options().schema.clone();
        drop(existing);
        let server = tasks_store_postgres::testing::server().expect("a server");
        let config = StoreConfig::parse(server.url())
            .and_then(|config| config.with_schema(&schema))
            .and_then(|config| config.with_table_prefix("fresh_"))
            .expect("valid config");

        // Before its schema exists, the store is refused as a schema problem.
        let err = create_task_store(&config).expect_err("no schema yet");
        assert_eq!(err.kind(), StoreFactoryErrorKind::Schema);

        let prepared = prepare_task_store_schema(&config).expect("prepared");
        assert_eq!(prepared.driver, Driver::Postgres);
        prepare_task_store_schema(&config).expect("idempotent");
        let store = create_task_store(&config).expect("created");
        assert_eq!(store.driver(), Some(Driver::Postgres));

        let woken = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&woken);
        let listener = store
            .listen(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            })
            .expect("listening")
            .expect("PostgreSQL announces new work");
        let writer = create_task_store(&config).expect("a second handle");
        writer.enqueue(NewTask::new("k", json!(null)), now()).expect("enqueued");
        let deadline = Instant::now() + Duration::from_secs(60);
        while woken.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "no wake-up arrived");
            std::thread::sleep(Duration::from_millis(10));
        }
        listener.stop();
        let listed = store.list(&Default::default()).expect("listed");
        assert_eq!(listed.len(), 1);
    }
}
