//! The background checkpoint: commits reach the database file without the writer copying
//! them, nothing does when it is turned off, and dropping the store stops its thread whether
//! it is waiting between passes or for the first commit.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use serde_json::json;
use tasks_core::{NewTask, TaskStore, Timestamp};
use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};

const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_000);
const TASKS: i64 = 50;

/// A liveness bound, not a speed goal: what the tests wait for takes milliseconds.
const PATIENCE: Duration = Duration::from_secs(30);

/// Tasks in the database file itself, ignoring the WAL (`immutable` reads only the main file):
/// what checkpoints have copied there. An error when the file holds no `tasks` table yet, or
/// when it is caught in the middle of a checkpoint.
fn tasks_in_main_file(path: &Path) -> rusqlite::Result<i64> {
    let uri = format!("file:{}?immutable=1", path.display());
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(uri, flags)?;
    conn.query_row("SELECT count(*) FROM tasks", [], |row| row.get(0))
}

/// Enqueues [`TASKS`] tasks, each in its own commit: a few hundred WAL pages, far below the
/// writer's own checkpoint threshold.
fn enqueue_one_by_one(store: &SqliteTaskStore) {
    for n in 0..TASKS {
        store.enqueue(NewTask::new("work", json!({ "n": n })), NOW).expect("enqueue");
    }
}

fn open(interval: Option<Duration>) -> (tempfile::TempDir, PathBuf, SqliteTaskStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    let options = SqliteOptions::new(&path).background_checkpoint(interval);
    let store = SqliteTaskStore::open(options).expect("open");
    (dir, path, store)
}

/// Drops `store` on another thread and waits for that to end: a drop that hangs fails the
/// test instead of hanging it.
fn drop_within_patience(store: SqliteTaskStore) {
    let (done, dropped) = mpsc::channel();
    std::thread::spawn(move || {
        drop(store);
        let _ = done.send(());
    });
    assert!(dropped.recv_timeout(PATIENCE).is_ok(), "dropping the store did not return");
}

#[test]
fn commits_reach_the_database_file_without_the_writer_copying_them() {
    let (_dir, path, store) = open(Some(Duration::from_millis(1)));
    enqueue_one_by_one(&store);
    let deadline = Instant::now() + PATIENCE;
    let mut copied = tasks_in_main_file(&path);
    while !matches!(copied, Ok(TASKS)) {
        assert!(Instant::now() < deadline, "never copied: last read {copied:?}");
        std::thread::sleep(Duration::from_millis(5));
        copied = tasks_in_main_file(&path);
    }
    // The store stays fully usable alongside it.
    assert_eq!(store.aggregate(&Default::default()).expect("aggregate").total, TASKS as u64);
    drop_within_patience(store);
}

#[test]
fn without_it_commits_stay_in_the_wal_until_the_writer_checkpoints() {
    let (_dir, path, store) = open(None);
    enqueue_one_by_one(&store);
    std::thread::sleep(Duration::from_millis(50));
    // Even the schema is still only in the WAL: nothing has been copied into the file.
    let error = tasks_in_main_file(&path).expect_err("the main file holds no tasks table");
    assert!(error.to_string().contains("no such table: tasks"), "{error}");
    assert_eq!(store.aggregate(&Default::default()).expect("aggregate").total, TASKS as u64);
    drop_within_patience(store);
}

#[test]
fn dropping_the_store_ends_the_wait_between_passes() {
    // After its first pass the thread waits an hour before the next: dropping the store must
    // end that wait, not sit it out.
    let (_dir, path, store) = open(Some(Duration::from_secs(3600)));
    enqueue_one_by_one(&store);
    drop_within_patience(store);
    // The last connection to close checkpoints the WAL and deletes it: every connection of
    // the store, the checkpoint thread's included, is closed.
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    assert!(!wal.exists(), "a connection of the dropped store is still open");
    assert_eq!(tasks_in_main_file(&path).expect("readable"), TASKS);
}

#[test]
fn dropping_a_store_that_never_wrote_ends_the_wait_for_a_commit() {
    let (_dir, path, store) = open(Some(Duration::from_millis(10)));
    drop_within_patience(store);
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    assert!(!wal.exists(), "a connection of the dropped store is still open");
}
