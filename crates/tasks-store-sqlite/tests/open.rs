//! Opening files: the refusals of bad files (each typed, each leaving the file byte for byte
//! as it was), the schema's idempotence and version row, and persistence across reopening.

use std::path::Path;

use serde_json::json;
use tasks_core::{NewTask, StoreErrorKind, TaskStore, Timestamp};
use tasks_store_sqlite::{
    OpenErrorKind, SCHEMA_VERSION, SqliteOptions, SqliteTaskStore, prepare_schema, schema_sql,
};

const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_000);

/// The bytes of a file, to compare before and after (a full copy is the strictest hash).
fn contents(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("the file is readable")
}

fn open(path: &Path) -> SqliteTaskStore {
    SqliteTaskStore::open(SqliteOptions::new(path)).expect("the database opens")
}

#[test]
fn refuses_a_path_in_a_missing_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-dir");
    let path = missing.join("tasks.db");
    let err = SqliteTaskStore::open(SqliteOptions::new(&path)).expect_err("refused");
    assert_eq!(err.kind(), OpenErrorKind::MissingDirectory);
    assert!(!missing.exists(), "no directory was created");
    let err = prepare_schema(&SqliteOptions::new(&path)).expect_err("refused");
    assert_eq!(err.kind(), OpenErrorKind::MissingDirectory);
    assert_eq!(tasks_core::StoreError::from(err).kind(), StoreErrorKind::Unavailable);
}

#[test]
fn refuses_a_file_that_is_not_sqlite_and_leaves_it_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases: [(&str, Vec<u8>); 4] = [
        ("text.db", b"name,value\nalpha,1\nbeta,2\n".to_vec()),
        ("short.db", b"SQLite".to_vec()),
        ("binary.db", (0..8192u32).map(|i| (i * 7 % 251) as u8).collect()),
        // The right magic, then garbage: SQLite itself must refuse it.
        ("forged.db", {
            let mut bytes = b"SQLite format 3\0".to_vec();
            bytes.extend((0..4096u32).map(|i| (i * 13 % 256) as u8));
            bytes
        }),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).expect("write the file");
        let err = SqliteTaskStore::open(SqliteOptions::new(&path)).expect_err("refused");
        assert_eq!(err.kind(), OpenErrorKind::NotSqlite, "{name}: {err}");
        assert_eq!(contents(&path), bytes, "{name} was modified");
        let err = prepare_schema(&SqliteOptions::new(&path)).expect_err("refused");
        assert_eq!(err.kind(), OpenErrorKind::NotSqlite, "{name}");
        assert_eq!(tasks_core::StoreError::from(err).kind(), StoreErrorKind::Schema);
        assert_eq!(contents(&path), bytes, "{name} was modified");
    }
    let err = SqliteTaskStore::open(SqliteOptions::new(dir.path())).expect_err("a directory");
    assert_eq!(err.kind(), OpenErrorKind::NotSqlite);
}

#[test]
fn refuses_a_newer_schema_and_leaves_the_file_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    let id = {
        let store = open(&path);
        store.enqueue(NewTask::new("k", json!({"n": 1})), NOW).expect("enqueue").task.id
    };
    {
        let conn = rusqlite::Connection::open(&path).expect("plain open");
        conn.execute(
            "UPDATE tasks_meta SET value = ?1 WHERE key = 'schema_version'",
            [SCHEMA_VERSION + 1],
        )
        .expect("bump the version");
    }
    let before = contents(&path);
    for _ in 0..2 {
        let err = SqliteTaskStore::open(SqliteOptions::new(&path)).expect_err("refused");
        assert_eq!(err.kind(), OpenErrorKind::NewerSchema, "{err}");
        assert!(matches!(
            err,
            tasks_store_sqlite::OpenError::NewerSchema { found, supported, .. }
                if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION
        ));
        let err = prepare_schema(&SqliteOptions::new(&path)).expect_err("refused");
        assert_eq!(err.kind(), OpenErrorKind::NewerSchema);
        assert_eq!(tasks_core::StoreError::from(err).kind(), StoreErrorKind::Schema);
        assert_eq!(contents(&path), before, "the file was modified");
    }
    // Still the same data once the version is what this build knows.
    let conn = rusqlite::Connection::open(&path).expect("plain open");
    conn.execute("UPDATE tasks_meta SET value = ?1 WHERE key = 'schema_version'", [SCHEMA_VERSION])
        .expect("restore the version");
    drop(conn);
    assert!(open(&path).get(&id).expect("get").is_some());
}

#[test]
fn refuses_invalid_options() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    for options in [
        SqliteOptions::new(&path).pool_size(0),
        SqliteOptions::new(&path).change_log_limit(0),
        SqliteOptions::new(&path).page_size(3_000),
        SqliteOptions::new(&path).page_size(256),
        SqliteOptions::new(&path).page_size(131_072),
        SqliteOptions::new(":memory:"),
    ] {
        let err = SqliteTaskStore::open(options.clone()).expect_err("refused");
        if options.page_size != SqliteOptions::DEFAULT_PAGE_SIZE {
            assert!(err.to_string().contains("pageSize"), "names the option: {err}");
        }
        assert_eq!(err.kind(), OpenErrorKind::InvalidOptions);
        assert_eq!(tasks_core::StoreError::from(err).kind(), StoreErrorKind::InvalidInput);
    }
    assert!(!path.exists(), "nothing was created");
}

#[test]
fn prepare_schema_is_idempotent_and_versioned() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    let options = SqliteOptions::new(&path);
    let first = prepare_schema(&options).expect("prepare a new file");
    assert_eq!((first.previous_version, first.version), (0, SCHEMA_VERSION));
    let again = prepare_schema(&options).expect("prepare again");
    assert_eq!((again.previous_version, again.version), (SCHEMA_VERSION, SCHEMA_VERSION));
    let store = open(&path);
    store.enqueue(NewTask::new("k", json!(null)), NOW).expect("enqueue");
    prepare_schema(&options).expect("prepare with a store open");
    assert_eq!(store.list(&tasks_core::TaskListQuery::all()).expect("list").len(), 1);

    let conn = rusqlite::Connection::open(&path).expect("plain open");
    let version: i64 = conn
        .query_row("SELECT value FROM tasks_meta WHERE key = 'schema_version'", [], |row| {
            row.get(0)
        })
        .expect("a version row");
    assert_eq!(version, SCHEMA_VERSION);
    let mode: String =
        conn.query_row("PRAGMA journal_mode", [], |row| row.get(0)).expect("journal mode");
    assert_eq!(mode, "wal");
}

#[test]
fn schema_sql_builds_the_same_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    let by_text = dir.path().join("by-text.db");
    let by_prepare = dir.path().join("by-prepare.db");
    let conn = rusqlite::Connection::open(&by_text).expect("plain open");
    conn.execute_batch(&schema_sql()).expect("the schema text runs");
    drop(conn);
    prepare_schema(&SqliteOptions::new(&by_prepare)).expect("prepare");
    let objects = |path: &Path| -> Vec<(String, String)> {
        let conn = rusqlite::Connection::open(path).expect("plain open");
        let mut statement = conn
            .prepare("SELECT type, name FROM sqlite_master ORDER BY type, name")
            .expect("prepare");
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    assert_eq!(objects(&by_text), objects(&by_prepare));
    // A file built from the text opens as a current store.
    let store = open(&by_text);
    store.enqueue(NewTask::new("k", json!(null)), NOW).expect("enqueue");
}

#[test]
fn data_survives_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    let created = {
        let store = open(&path);
        store.enqueue(NewTask::new("k", json!({"big": "x".repeat(10_000)})), NOW).expect("enqueue")
    };
    let store = open(&path);
    assert_eq!(store.get(&created.task.id).expect("get"), Some(created.task));
}

fn page_size_of(path: &Path) -> u32 {
    let conn = rusqlite::Connection::open(path).expect("opens");
    conn.pragma_query_value(None, "page_size", |row| row.get(0)).expect("page size")
}

#[test]
fn a_new_file_gets_the_page_size_asked_for_and_an_existing_one_keeps_its_own() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    let created = {
        let store = SqliteTaskStore::open(SqliteOptions::new(&path).page_size(2_048))
            .expect("the database opens");
        store.enqueue(NewTask::new("k", json!({"big": "x".repeat(5_000)})), NOW).expect("enqueue")
    };
    assert_eq!(page_size_of(&path), 2_048);
    let store = SqliteTaskStore::open(SqliteOptions::new(&path).page_size(8_192))
        .expect("the database opens again");
    assert_eq!(store.get(&created.task.id).expect("get"), Some(created.task), "nothing lost");
    store.enqueue(NewTask::new("k", json!({"n": 2})), NOW).expect("still writable");
    drop(store);
    assert_eq!(page_size_of(&path), 2_048, "an existing file keeps its page size");
    let fresh = dir.path().join("default.db");
    drop(open(&fresh));
    assert_eq!(page_size_of(&fresh), SqliteOptions::DEFAULT_PAGE_SIZE);
}
