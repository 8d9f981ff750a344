//! The background checkpoint: copies committed WAL frames into the database file on a thread
//! of the store's own, so the writer does not stall on that work.
//!
//! A WAL checkpoint flushes the WAL to disk, copies each page changed since the last one into
//! the main file, and, when it copied everything, flushes that too. SQLite runs it on the
//! connection that committed, inside the commit that crossed `wal_autocheckpoint` pages: with
//! 10,000 pages between checkpoints that is a flush of up to 40 MiB, tens of milliseconds during
//! which every write of the process waits behind the store's write mutex. One task at a time, a
//! fifth of the writer's wall time went there.
//!
//! Here a thread with its own connection runs a `PASSIVE` checkpoint shortly after commits (at
//! most once per interval). A passive checkpoint never waits: it holds only the checkpoint lock
//! and, briefly, reader slots, so writers and readers go on alongside it. When the writer's own
//! automatic checkpoint comes due, only the last few milliseconds of commits are left to copy.
//! That one stays, to bound the WAL should this thread fall behind; should it meet this thread's
//! checkpoint running, it gives up at once and a later commit tries again. The WAL starts over
//! from its beginning at the first write after any checkpoint that copied everything.
//!
//! Failures are not reported: a checkpoint that fails (another process's checkpoint holds the
//! lock, a full disk) leaves the frames in the WAL, where they are as durable as before, and the
//! next pass or the writer's own checkpoint copies them.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// The running checkpoint thread; dropping it stops the thread and waits for it.
pub(crate) struct Checkpointer {
    /// Tells the thread there are new commits. Holds at most one nudge: commits while a nudge
    /// is pending add nothing. Dropped to end the thread's wait for the next nudge.
    nudge: Option<SyncSender<()>>,
    /// Dropped to end the thread's wait between two passes.
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on `conn` (see `open::open_checkpointer`). It runs a checkpoint after
    /// each nudge, then waits `interval` before it looks at the next one.
    pub(crate) fn start(conn: Connection, interval: Duration) -> std::io::Result<Self> {
        let (nudge, nudged) = mpsc::sync_channel(1);
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tasks-sqlite-checkpoint".into())
            .spawn(move || run(&conn, &nudged, &stopped, interval))?;
        Ok(Checkpointer { nudge: Some(nudge), stop: Some(stop), thread: Some(thread) })
    }

    /// Tells the thread that a write committed. Never blocks: a nudge already pending covers
    /// this commit too.
    pub(crate) fn nudge(&self) {
        if let Some(nudge) = &self.nudge {
            // Full: a nudge is pending; disconnected: the thread is gone. Neither needs more.
            let _ = nudge.try_send(());
        }
    }
}

/// The thread: a passive checkpoint per nudge, at most one per `interval`, until the store
/// drops its senders.
fn run(conn: &Connection, nudged: &Receiver<()>, stopped: &Receiver<()>, interval: Duration) {
    // `recv` fails only once the nudge sender is dropped: then the thread ends.
    while nudged.recv().is_ok() {
        // The row is (busy, frames in the WAL, frames copied); busy means another connection's
        // checkpoint runs, which does the same work.
        let _ = conn
            .prepare_cached("PRAGMA wal_checkpoint(PASSIVE)")
            .and_then(|mut statement| statement.query_row([], |_| Ok(())));
        match stopped.recv_timeout(interval) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Both waits end: between passes (the stop sender) and for the next nudge (the nudge
        // sender). The thread closes its connection as it returns.
        self.stop.take();
        self.nudge.take();
        if let Some(thread) = self.thread.take() {
            // A checkpoint in progress finishes first; a panic in the thread has nothing left
            // to clean up.
            let _ = thread.join();
        }
    }
}
