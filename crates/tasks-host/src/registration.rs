//! [`HandlerRegistration`]: how one kind runs on this host: its executor, its concurrency
//! limits, its [`RetryPolicy`], its timeout and its lease.
//!
//! Concurrency comes in two scopes. `concurrency` caps the tasks of the kind this host runs at
//! once (its share of the host's slots). `max_active` caps the tasks of the kind claimed or
//! running in the whole store, across every host sharing it; the store enforces it at claim
//! time, so it holds for many processes on many machines.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tasks_core::enqueue::MAX_ATTEMPTS_LIMIT;
use tasks_core::{Backoff, InvalidInput, TaskExecutor, limits};

/// When and how often a failed attempt is retried.
#[derive(Clone, Copy, PartialEq, Debug, Default)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all for tasks of the kind whose enqueue does not say (the runner's default
    /// when absent).
    pub max_attempts: Option<u32>,
    /// The delay before each retry.
    pub backoff: Backoff,
}

impl RetryPolicy {
    /// A policy of `max_attempts` attempts with the default backoff (1 s doubling to 5 min,
    /// 20 % jitter).
    pub fn attempts(max_attempts: u32) -> Self {
        RetryPolicy { max_attempts: Some(max_attempts), backoff: Backoff::default() }
    }

    /// The same policy with another backoff.
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }
}

/// A kind this host runs, with its executor and options.
///
/// ```
/// use std::time::Duration;
/// use serde_json::Value;
/// use tasks_core::Backoff;
/// use tasks_exec_inproc::{TaskContext, TaskFailure, from_fn};
/// use tasks_host::{HandlerRegistration, RetryPolicy};
///
/// let registration = HandlerRegistration::new(
///     "report.generate",
///     from_fn(|input: Value, _ctx: TaskContext| async move { Ok::<_, TaskFailure>(input) }),
/// )
/// .concurrency(2)
/// .retry(RetryPolicy::attempts(3).backoff(Backoff::constant(Duration::from_secs(5))))
/// .timeout(Duration::from_secs(600));
/// assert_eq!(registration.kind(), "report.generate");
/// ```
#[derive(Clone)]
pub struct HandlerRegistration {
    pub(crate) kind: String,
    pub(crate) executor: Arc<dyn TaskExecutor>,
    pub(crate) concurrency: Option<u32>,
    pub(crate) max_active: Option<u32>,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Option<Duration>,
    pub(crate) lease: Option<Duration>,
}

impl HandlerRegistration {
    /// Tasks of `kind` run on `executor`, with no limit beyond the host's own concurrency, the
    /// default retry policy, no timeout and the runner's lease.
    pub fn new(kind: impl Into<String>, executor: impl TaskExecutor + 'static) -> Self {
        HandlerRegistration::from_arc(kind, Arc::new(executor))
    }

    /// The same, with an executor shared with other registrations.
    pub fn from_arc(kind: impl Into<String>, executor: Arc<dyn TaskExecutor>) -> Self {
        HandlerRegistration {
            kind: kind.into(),
            executor,
            concurrency: None,
            max_active: None,
            retry: RetryPolicy::default(),
            timeout: None,
            lease: None,
        }
    }

    /// At most `limit` tasks of the kind run on this host at once.
    #[must_use]
    pub fn concurrency(mut self, limit: u32) -> Self {
        self.concurrency = Some(limit);
        self
    }

    /// At most `limit` tasks of the kind are claimed or running in the whole store, across
    /// every host.
    #[must_use]
    pub fn max_active(mut self, limit: u32) -> Self {
        self.max_active = Some(limit);
        self
    }

    /// The retry policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// An attempt running longer than `timeout` is cancelled and fails with code `timeout`
    /// (retried while attempts remain).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Leases of this kind's tasks are renewed for `lease` (the runner's lease otherwise). The
    /// claim itself takes the runner's lease; the first heartbeat switches to this one, and
    /// heartbeats come at least every third of it.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// The kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Checks the registration.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] naming the first bad option.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        limits::validate_kind(&self.kind)?;
        let range = |ok: bool, field: &'static str, expected: &'static str| {
            if ok { Ok(()) } else { Err(InvalidInput::Range { field, expected }) }
        };
        range(self.concurrency.is_none_or(|n| n >= 1), "concurrency", "at least 1")?;
        range(self.max_active.is_none_or(|n| n >= 1), "maxActive", "at least 1")?;
        range(
            self.retry.max_attempts.is_none_or(|n| (1..=MAX_ATTEMPTS_LIMIT).contains(&n)),
            "retry.maxAttempts",
            "from 1 to 1000",
        )?;
        self.retry.backoff.validate()?;
        range(self.timeout.is_none_or(|d| !d.is_zero()), "timeout", "longer than zero")?;
        range(self.lease.is_none_or(|d| !d.is_zero()), "lease", "longer than zero")
    }
}

impl fmt::Debug for HandlerRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerRegistration")
            .field("kind", &self.kind)
            .field("concurrency", &self.concurrency)
            .field("max_active", &self.max_active)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}
