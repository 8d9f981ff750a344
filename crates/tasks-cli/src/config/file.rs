//! The shape of `tasks.toml`, as serde reads it. Unknown keys are refused (a typo names its
//! line instead of being ignored); every section and key is optional except a kind's
//! `program`.
//!
//! ```toml
//! [store]
//! url = "sqlite:.data/tasks.sqlite"   # or postgres://user@host/db
//! schema = "public"                   # PostgreSQL only
//! prefix = "tasks_"                   # PostgreSQL only
//!
//! [worker]
//! concurrency = 8
//! poll_interval = "1s"
//! stop_timeout = "10s"
//!
//! [retention]
//! success_ttl = "7d"
//! step_limit_per_task = 200
//!
//! [kinds."report.generate"]
//! program = "python3"
//! args = ["workers/report.py"]
//! env = { REPORT_BUCKET = "reports" }
//! concurrency = 2
//! timeout = "10m"
//! max_attempts = 3
//! backoff = { min = "1s", max = "5m" }
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::duration::ConfigDuration;
use super::env::InheritEnv;

/// The whole file.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// Where the store is.
    #[serde(default)]
    pub(crate) store: StoreSection,
    /// How `tasks worker` runs.
    #[serde(default)]
    pub(crate) worker: Option<Spanned<WorkerSection>>,
    /// What `tasks compact` (and the worker, every `interval`) deletes.
    #[serde(default)]
    pub(crate) retention: Option<Spanned<RetentionSection>>,
    /// The kinds `tasks worker` runs, by name.
    #[serde(default)]
    pub(crate) kinds: BTreeMap<Spanned<String>, Spanned<KindSection>>,
}

/// `[store]`.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoreSection {
    /// `sqlite:PATH` (relative to the config file's directory) or `postgres://...`.
    pub(crate) url: Option<String>,
    /// The PostgreSQL schema.
    pub(crate) schema: Option<String>,
    /// The PostgreSQL table prefix.
    pub(crate) prefix: Option<String>,
}

/// `[worker]`: the host's runner options.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkerSection {
    pub(crate) runner_id: Option<String>,
    pub(crate) concurrency: Option<u32>,
    pub(crate) lease: Option<ConfigDuration>,
    pub(crate) heartbeat: Option<ConfigDuration>,
    pub(crate) poll_interval: Option<ConfigDuration>,
    pub(crate) watchdog: Option<ConfigDuration>,
    pub(crate) stop_timeout: Option<ConfigDuration>,
    pub(crate) cancel_grace: Option<ConfigDuration>,
    pub(crate) progress_flush_interval: Option<ConfigDuration>,
    pub(crate) progress_event_interval: Option<ConfigDuration>,
    pub(crate) default_max_attempts: Option<u32>,
}

/// `[retention]`: a retention policy, and how often the worker applies it.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetentionSection {
    pub(crate) success_ttl: Option<ConfigDuration>,
    pub(crate) failed_ttl: Option<ConfigDuration>,
    pub(crate) cancelled_ttl: Option<ConfigDuration>,
    pub(crate) step_limit_per_task: Option<u32>,
    pub(crate) keep_latest_successes_per_kind: Option<u32>,
    pub(crate) keep_latest_failures_per_kind: Option<u32>,
    /// How often the worker compacts (its default when absent).
    pub(crate) interval: Option<ConfigDuration>,
}

/// `[kinds."NAME"]`: a kind run as a child process.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct KindSection {
    /// The program: a name looked up in `PATH`, or a path (relative to the config file).
    pub(crate) program: String,
    #[serde(default)]
    pub(crate) args: Vec<String>,
    /// The working directory (relative to the config file; the config file's directory
    /// when absent).
    pub(crate) cwd: Option<PathBuf>,
    /// Variables set for the child.
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    /// Which of the worker's variables the child inherits.
    pub(crate) inherit_env: Option<InheritEnv>,
    /// Tasks of this kind this worker runs at once.
    pub(crate) concurrency: Option<u32>,
    /// Tasks of this kind claimed or running across every worker sharing the store.
    pub(crate) max_active: Option<u32>,
    /// An attempt running longer fails with code `timeout`.
    pub(crate) timeout: Option<ConfigDuration>,
    /// The lease of this kind's claims.
    pub(crate) lease: Option<ConfigDuration>,
    /// Time between SIGTERM and SIGKILL when an attempt must stop.
    pub(crate) kill_grace: Option<ConfigDuration>,
    /// Attempts in all, when the enqueue does not say.
    pub(crate) max_attempts: Option<u32>,
    /// The delay before each retry.
    pub(crate) backoff: Option<BackoffSection>,
}

/// `backoff = { min = "1s", max = "5m", factor = 2.0, jitter = 0.2 }`.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackoffSection {
    pub(crate) min: Option<ConfigDuration>,
    pub(crate) max: Option<ConfigDuration>,
    pub(crate) factor: Option<f64>,
    pub(crate) jitter: Option<f64>,
}
