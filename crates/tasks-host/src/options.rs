//! [`RunnerOptions`]: how one host runs: its runner id, concurrency, lease and heartbeat, how
//! often it polls, the watchdog, lease recovery, retention, how it stops, how often it writes
//! progress, and how many steps one attempt may report. Every option is validated when the
//! host is built.

use std::time::Duration;

use tasks_core::enqueue::DEFAULT_MAX_ATTEMPTS;
use tasks_core::enqueue::MAX_ATTEMPTS_LIMIT;
use tasks_core::lease::MAX_CLAIM_BATCH;
use tasks_core::{InvalidInput, RetentionPolicy, limits};

/// The options of one runner (one host). Start from [`RunnerOptions::default`] and change what
/// you need:
///
/// ```
/// use std::time::Duration;
/// use tasks_host::RunnerOptions;
///
/// let options = RunnerOptions::default()
///     .runner_id("worker-1")
///     .concurrency(32)
///     .lease(Duration::from_secs(30))
///     .watchdog(Some(Duration::from_secs(60)));
/// assert_eq!(options.concurrency, 32);
/// ```
#[derive(Clone, PartialEq, Debug)]
#[non_exhaustive]
pub struct RunnerOptions {
    /// The runner's id, recorded as `leaseOwner`; generated (`runner-PID-ULID`) when absent.
    pub runner_id: Option<String>,
    /// Tasks this host runs at once, all kinds together (1 to 1000). Default 10.
    pub concurrency: u32,
    /// How long a claim's lease lasts unless renewed. Default 30 s.
    pub lease: Duration,
    /// How often a running task's lease is renewed; shorter than the lease. Default 10 s.
    pub heartbeat: Duration,
    /// How often the host looks for due tasks without being woken (scheduled tasks, retries,
    /// tasks enqueued by other processes on stores without notifications). Default 1 s.
    pub poll_interval: Duration,
    /// Silence after which a claimed or running task is marked stale (`None`: never).
    /// Default 60 s.
    pub watchdog: Option<Duration>,
    /// How often the watchdog scans. Default 5 s.
    pub watchdog_scan_interval: Duration,
    /// How often tasks whose lease ran out are recovered. Default 5 s.
    pub stale_scan_interval: Duration,
    /// Most tasks one watchdog or recovery scan handles. Default 100.
    pub stale_scan_limit: u32,
    /// What retention deletes on its interval (`None`: retention does not run). Default none.
    pub retention_policy: Option<RetentionPolicy>,
    /// How often retention runs. Default 60 s.
    pub retention_interval: Duration,
    /// How often the host asks its store for warnings (a long-open transaction slowing claims
    /// down, say: see `TaskStore::warnings`) and reports each as a `runner:warning` event.
    /// Default 30 s.
    pub health_check_interval: Duration,
    /// How long `stop` lets running tasks finish before cancelling and releasing them.
    /// Default 10 s.
    pub stop_timeout: Duration,
    /// How long a cancelled, timed-out or lease-less handler gets to stop before the host stops
    /// waiting for it (it is then reported cancelled, timed out or released). Default 5 s.
    pub cancel_grace: Duration,
    /// Progress is written at most once per this interval (the latest update wins), and always
    /// before the task finishes; steps are batched on the same beat and never dropped within
    /// the step limits below. Zero writes every report as it comes. Default 200 ms.
    pub progress_flush_interval: Duration,
    /// In-process listeners (a live hub, say) are told a task's progress at most once per
    /// this interval: the first update at once, later ones within the interval folded into
    /// one event told with the next progress write, so the last value is always told. Zero
    /// tells every update as it comes. Default 50 ms (20 events a second per task).
    pub progress_event_interval: Duration,
    /// Attempts of a task whose enqueue and handler say nothing. Default 3.
    pub default_max_attempts: u32,
    /// Steps one attempt may report per second, on average (`None`: no limit). Default 1,000.
    /// Steps past the limit are dropped and counted; the next batch written ends with one
    /// `warn` log step saying how many (`meta.droppedSteps`). Protects the store and the
    /// host's memory from a task that floods its log.
    pub max_steps_per_second: Option<u32>,
    /// Steps one attempt may report at once before [`RunnerOptions::max_steps_per_second`]
    /// applies, and most steps waiting for their write (more are dropped while the store falls
    /// behind). Default 1,000.
    pub step_burst: u32,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            runner_id: None,
            concurrency: 10,
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            watchdog: Some(Duration::from_secs(60)),
            watchdog_scan_interval: Duration::from_secs(5),
            stale_scan_interval: Duration::from_secs(5),
            stale_scan_limit: 100,
            retention_policy: None,
            retention_interval: Duration::from_secs(60),
            health_check_interval: Duration::from_secs(30),
            stop_timeout: Duration::from_secs(10),
            cancel_grace: Duration::from_secs(5),
            progress_flush_interval: Duration::from_millis(200),
            progress_event_interval: Duration::from_millis(50),
            default_max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_steps_per_second: Some(1_000),
            step_burst: 1_000,
        }
    }
}

macro_rules! setters {
    ($($(#[$meta:meta])* $name:ident: $type:ty),+ $(,)?) => {$(
        $(#[$meta])*
        #[must_use]
        pub fn $name(mut self, value: $type) -> Self {
            self.$name = value;
            self
        }
    )+};
}

impl RunnerOptions {
    /// Sets the runner id.
    #[must_use]
    pub fn runner_id(mut self, id: impl Into<String>) -> Self {
        self.runner_id = Some(id.into());
        self
    }

    setters! {
        /// Sets the concurrency.
        concurrency: u32,
        /// Sets the lease.
        lease: Duration,
        /// Sets the heartbeat interval.
        heartbeat: Duration,
        /// Sets the poll interval.
        poll_interval: Duration,
        /// Sets (or turns off) the watchdog.
        watchdog: Option<Duration>,
        /// Sets the watchdog's scan interval.
        watchdog_scan_interval: Duration,
        /// Sets the recovery scan interval.
        stale_scan_interval: Duration,
        /// Sets the most tasks a scan handles.
        stale_scan_limit: u32,
        /// Sets (or turns off) the retention policy.
        retention_policy: Option<RetentionPolicy>,
        /// Sets the retention interval.
        retention_interval: Duration,
        /// Sets how often the store is asked for warnings.
        health_check_interval: Duration,
        /// Sets the stop timeout.
        stop_timeout: Duration,
        /// Sets the cancel grace.
        cancel_grace: Duration,
        /// Sets the progress flush interval.
        progress_flush_interval: Duration,
        /// Sets the most frequent progress event of one task.
        progress_event_interval: Duration,
        /// Sets the default attempts.
        default_max_attempts: u32,
        /// Sets (or turns off) the step rate limit of one attempt.
        max_steps_per_second: Option<u32>,
        /// Sets the step burst of one attempt.
        step_burst: u32,
    }

    /// Checks the options.
    ///
    /// # Errors
    ///
    /// [`InvalidInput::Range`] (or `Text` for the runner id) naming the first bad option.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if let Some(id) = &self.runner_id {
            limits::validate_text("runnerId", id, true)?;
            if id.len() > limits::MAX_KEY_LEN {
                return Err(InvalidInput::Text {
                    field: "runnerId",
                    reason: "it is longer than 512 bytes",
                });
            }
        }
        let range = |ok: bool, field: &'static str, expected: &'static str| {
            if ok { Ok(()) } else { Err(InvalidInput::Range { field, expected }) }
        };
        range((1..=MAX_CLAIM_BATCH).contains(&self.concurrency), "concurrency", "from 1 to 1000")?;
        range(!self.lease.is_zero(), "lease", "longer than zero")?;
        range(
            !self.heartbeat.is_zero() && self.heartbeat < self.lease,
            "heartbeat",
            "longer than zero and shorter than the lease",
        )?;
        range(!self.poll_interval.is_zero(), "pollInterval", "longer than zero")?;
        range(self.watchdog.is_none_or(|d| !d.is_zero()), "watchdog", "longer than zero")?;
        range(!self.watchdog_scan_interval.is_zero(), "watchdogScanInterval", "longer than zero")?;
        range(!self.stale_scan_interval.is_zero(), "staleScanInterval", "longer than zero")?;
        range(self.stale_scan_limit >= 1, "staleScanLimit", "at least 1")?;
        range(!self.retention_interval.is_zero(), "retentionInterval", "longer than zero")?;
        range(!self.health_check_interval.is_zero(), "healthCheckInterval", "longer than zero")?;
        range(
            (1..=MAX_ATTEMPTS_LIMIT).contains(&self.default_max_attempts),
            "defaultMaxAttempts",
            "from 1 to 1000",
        )?;
        range(self.max_steps_per_second != Some(0), "maxStepsPerSecond", "at least 1")?;
        range(self.step_burst >= 1, "stepBurst", "at least 1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert!(RunnerOptions::default().validate().is_ok());
        let bad = RunnerOptions::default().heartbeat(Duration::from_secs(60));
        assert!(matches!(bad.validate(), Err(InvalidInput::Range { field: "heartbeat", .. })));
        let bad = RunnerOptions::default().concurrency(0);
        assert!(matches!(bad.validate(), Err(InvalidInput::Range { field: "concurrency", .. })));
        let bad = RunnerOptions::default().runner_id("  ");
        assert!(matches!(bad.validate(), Err(InvalidInput::Text { field: "runnerId", .. })));
        let bad = RunnerOptions::default().max_steps_per_second(Some(0));
        let field = "maxStepsPerSecond";
        assert!(matches!(bad.validate(), Err(InvalidInput::Range { field: f, .. }) if f == field));
        let bad = RunnerOptions::default().step_burst(0);
        assert!(matches!(bad.validate(), Err(InvalidInput::Range { field: "stepBurst", .. })));
        assert!(RunnerOptions::default().max_steps_per_second(None).validate().is_ok());
    }
}
