//! [`SqliteOptions`]: where the database lives and how it is opened ([`Durability`], busy
//! timeout, pool size, change-log bound, page size of a new file, background checkpoint).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How hard a commit works to survive a crash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[non_exhaustive]
pub enum Durability {
    /// `synchronous = NORMAL` in WAL mode: a commit survives the crash of the process (every
    /// acknowledged write is in the WAL file), but a power loss or OS crash may lose the last
    /// commits. The default, and several times faster than `Full`.
    #[default]
    Normal,
    /// `synchronous = FULL`: every commit is flushed to stable storage before it returns.
    Full,
}

impl Durability {
    /// The value of SQLite's `synchronous` pragma for this durability.
    pub const fn pragma_value(self) -> &'static str {
        match self {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        }
    }
}

/// How to open a [`SqliteTaskStore`](crate::SqliteTaskStore).
///
/// Build it with [`SqliteOptions::new`] and the setters; every field has a default except the
/// path.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// The database file. Its directory must exist; the file is created when missing.
    pub path: PathBuf,
    /// Commit durability; [`Durability::Normal`] by default.
    pub durability: Durability,
    /// How long a write waits for another process holding the write lock before giving up
    /// (SQLite's `busy_timeout`); 5 seconds by default.
    pub busy_timeout: Duration,
    /// Most pooled read connections; 4 by default. Writes use one dedicated connection.
    pub pool_size: u32,
    /// How many change-feed entries the store keeps at least (older ones are pruned, and a
    /// cursor pointing before them is refused as expired); 100,000 by default.
    pub change_log_limit: u64,
    /// The page size, in bytes, of a database file this store creates: a power of two from 512
    /// to 65,536; 4,096 (SQLite's default) by default. A file that already exists keeps the
    /// page size it was created with.
    ///
    /// Every commit writes each page it changed to the WAL whole, so smaller pages make a
    /// one-task write cheaper; larger rows then spill into overflow pages sooner, which makes
    /// batches and tasks with inputs of a kilobyte or more slower. The crate README has the
    /// measured trade-off.
    pub page_size: u32,
    /// How often, at most, a thread of the store copies new commits from the WAL into the
    /// database file (a `PASSIVE` checkpoint, which never waits for readers or writers); `None`
    /// leaves all checkpoints to the writer. 10 ms by default.
    ///
    /// Without it, the commit that crosses SQLite's checkpoint threshold flushes and copies the
    /// whole WAL (up to 40 MiB here) while every other write waits. With it, that commit finds
    /// only the last few milliseconds of writes left to copy. It costs the thread's own
    /// connection and, on a busy store, up to two flushes per interval on another core.
    pub background_checkpoint: Option<Duration>,
}

impl SqliteOptions {
    /// Default busy timeout.
    pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default read pool size.
    pub const DEFAULT_POOL_SIZE: u32 = 4;
    /// Default number of change-feed entries kept.
    pub const DEFAULT_CHANGE_LOG_LIMIT: u64 = 100_000;
    /// Default page size of a new database file.
    pub const DEFAULT_PAGE_SIZE: u32 = 4_096;
    /// Default interval of the background checkpoint.
    pub const DEFAULT_BACKGROUND_CHECKPOINT: Duration = Duration::from_millis(10);

    /// Options for the database at `path`, with every other setting at its default.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteOptions {
            path: path.into(),
            durability: Durability::default(),
            busy_timeout: Self::DEFAULT_BUSY_TIMEOUT,
            pool_size: Self::DEFAULT_POOL_SIZE,
            change_log_limit: Self::DEFAULT_CHANGE_LOG_LIMIT,
            page_size: Self::DEFAULT_PAGE_SIZE,
            background_checkpoint: Some(Self::DEFAULT_BACKGROUND_CHECKPOINT),
        }
    }

    /// The same options with another durability.
    #[must_use]
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The same options with another busy timeout.
    #[must_use]
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// The same options with another read pool size (at least 1).
    #[must_use]
    pub fn pool_size(mut self, size: u32) -> Self {
        self.pool_size = size;
        self
    }

    /// The same options keeping this many change-feed entries (at least 1).
    #[must_use]
    pub fn change_log_limit(mut self, limit: u64) -> Self {
        self.change_log_limit = limit;
        self
    }

    /// The same options creating new database files with pages of `bytes` (see
    /// [`SqliteOptions::page_size`](SqliteOptions#structfield.page_size)).
    #[must_use]
    pub fn page_size(mut self, bytes: u32) -> Self {
        self.page_size = bytes;
        self
    }

    /// The same options with the background checkpoint every `interval` at most, or with none
    /// (see [`SqliteOptions::background_checkpoint`](SqliteOptions#structfield.background_checkpoint)).
    #[must_use]
    pub fn background_checkpoint(mut self, interval: Option<Duration>) -> Self {
        self.background_checkpoint = interval;
        self
    }

    /// The database path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
