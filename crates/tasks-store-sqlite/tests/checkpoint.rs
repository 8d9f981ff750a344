//! The background checkpoint: commits reach the database file without the writer copying
//! them, nothing does when it is turned off, and dropping the store stops its thread.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use serde_json::json;
use tasks_core::{NewTask, TaskStore, Timestamp};
use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};

const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_000);
const TASKS: i64 = 50;

/// Tasks in the database file itself, ignoring the WAL (`immutable` reads only the main file):
/// what checkpoints have copied there. A file caught in the middle of a checkpoint may not read;
/// that counts as nothing copied yet.
fn tasks_in_main_file(path: &Path) -> i64 {
    let uri = format!("file:{}?immutable=1", path.display());
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
    let Ok(conn) = Connection::open_with_flags(uri, flags) else { return 0 };
    conn.query_row("SELECT count(*) FROM tasks", [], |row| row.get(0)).unwrap_or(0)
}

/// Enqueues [`TASKS`] tasks, each in its own commit: a few hundred WAL pages, far below the
/// writer's own checkpoint threshold.
fn enqueue_one_by_one(store: &SqliteTaskStore) {
    for n in 0..TASKS {
        store.enqueue(NewTask::new("work", json!({ "n": n })), NOW).expect("enqueue");
    }
}

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    (dir, path)
}

#[test]
fn commits_reach_the_database_file_without_the_writer_copying_them() {
    let (_dir, path) = temp_db();
    let options = SqliteOptions::new(&path).background_checkpoint(Some(Duration::from_millis(1)));
    let store = SqliteTaskStore::open(options).expect("open");
    enqueue_one_by_one(&store);
    // A liveness bound, not a speed goal: the thread copies within milliseconds.
    let deadline = Instant::now() + Duration::from_secs(30);
    while tasks_in_main_file(&path) < TASKS {
        assert!(Instant::now() < deadline, "the background checkpoint never copied the commits");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(tasks_in_main_file(&path), TASKS);
    // The store stays fully usable alongside it.
    let aggregate = store.aggregate(&Default::default()).expect("aggregate");
    assert_eq!(aggregate.total, TASKS as u64);
}

#[test]
fn without_it_commits_stay_in_the_wal_until_the_writer_checkpoints() {
    let (_dir, path) = temp_db();
    let options = SqliteOptions::new(&path).background_checkpoint(None);
    let store = SqliteTaskStore::open(options).expect("open");
    enqueue_one_by_one(&store);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(tasks_in_main_file(&path), 0, "nothing else checkpoints below the threshold");
    assert_eq!(store.aggregate(&Default::default()).expect("aggregate").total, TASKS as u64);
}

#[test]
fn dropping_the_store_stops_its_checkpoint_thread_and_closes_the_file() {
    let (_dir, path) = temp_db();
    // After its first pass the thread waits an hour before the next: dropping the store must
    // end that wait, not sit it out.
    let options = SqliteOptions::new(&path).background_checkpoint(Some(Duration::from_secs(3600)));
    let store = SqliteTaskStore::open(options).expect("open");
    enqueue_one_by_one(&store);
    drop(store);
    // The last connection to close checkpoints the WAL and deletes it: every connection of
    // the store, the checkpoint thread's included, is closed.
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    assert!(!wal.exists(), "a connection of the dropped store is still open");
    assert_eq!(tasks_in_main_file(&path), TASKS);
}
