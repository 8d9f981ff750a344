//! The background checkpointer: copies committed WAL frames into the database file on a
//! thread of its own, so the writer does not stall on that work.
//!
//! A WAL checkpoint flushes the WAL to disk, copies each page changed since the last one into
//! the main file, and flushes that too. SQLite runs it on the connection that committed, inside
//! the commit that crossed `wal_autocheckpoint` pages: with 10,000 pages between checkpoints
//! that is a flush of up to 40 MiB, tens of milliseconds during which every write of the
//! process waits behind the store's write mutex. One task at a time, a fifth of the writer's
//! wall time went there.
//!
//! Here a thread with its own connection runs a `PASSIVE` checkpoint shortly after commits
//! (at most once per interval): it takes no lock a writer or reader needs, so it proceeds
//! alongside them, and when the writer's own automatic checkpoint comes due there is only the
//! short tail since the last pass left to copy and flush. That automatic checkpoint stays: it
//! is what resets the WAL to its start (SQLite restarts the log only after a checkpoint that
//! caught up completely, which a checkpoint racing a busy writer rarely does), and it bounds
//! the WAL should this thread fall behind.
//!
//! Failures are not reported: a checkpoint that fails (another process's checkpoint holds the
//! lock, a full disk) leaves the frames in the WAL, where they are as durable as before, and
//! the next pass or the writer's own checkpoint copies them.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Pages of cache the checkpointer's connection keeps: a checkpoint copies frames from the WAL
/// file to the main file without going through the page cache.
const CHECKPOINTER_CACHE_PAGES: i64 = 16;

/// The running checkpointer; dropping it stops the thread and waits for it.
pub(crate) struct Checkpointer {
    /// Tells the thread there are new commits. Holds at most one nudge: commits while a nudge
    /// is pending add nothing.
    nudge: SyncSender<()>,
    /// Dropped to stop the thread, also in the middle of its wait between two passes.
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens the checkpointer's connection to `path` and starts its thread, which runs a
    /// checkpoint after a nudge, then waits `interval` before it looks at the next one.
    pub(crate) fn start(path: &Path, interval: Duration) -> Result<Self, CheckpointerError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(CheckpointerError::Sqlite)?;
        conn.pragma_update(None, "cache_size", CHECKPOINTER_CACHE_PAGES)
            .map_err(CheckpointerError::Sqlite)?;
        let (nudge, nudged) = mpsc::sync_channel(1);
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tasks-sqlite-checkpoint".into())
            .spawn(move || run(&conn, &nudged, &stopped, interval))
            .map_err(CheckpointerError::Thread)?;
        Ok(Checkpointer { nudge, stop: Some(stop), thread: Some(thread) })
    }

    /// Tells the thread that a write committed. Never blocks: a nudge already pending covers
    /// this commit too.
    pub(crate) fn nudge(&self) {
        match self.nudge.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }
}

/// Why the checkpointer could not start.
#[derive(Debug)]
pub(crate) enum CheckpointerError {
    /// Its connection did not open.
    Sqlite(rusqlite::Error),
    /// Its thread did not start.
    Thread(std::io::Error),
}

fn run(conn: &Connection, nudged: &Receiver<()>, stopped: &Receiver<()>, interval: Duration) {
    // `recv` fails only once the store has dropped the sender: then the thread ends.
    while nudged.recv().is_ok() {
        // Returns a row (busy, frames in the WAL, frames checkpointed); a busy answer means
        // another connection's checkpoint runs, which does the same work.
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        match stopped.recv_timeout(interval) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Ends the wait between passes; the nudge sender goes with `self`, ending `recv`.
        self.stop.take();
        let (idle, _) = mpsc::sync_channel(1);
        drop(std::mem::replace(&mut self.nudge, idle));
        if let Some(thread) = self.thread.take() {
            // A checkpoint in progress finishes first; a panic in the thread has nothing left
            // to clean up.
            let _ = thread.join();
        }
    }
}
