//! Running hosts from a scenario's plain thread: a tokio runtime, runner options suited to a
//! short scenario, a seeded random source, and a wait with a generous deadline.
//!
//! Scenarios call the store from their own thread (never a runtime worker, which the
//! synchronous PostgreSQL client does not allow) and drive hosts with `block_on`.

use std::time::{Duration, Instant};

use tasks_host::RunnerOptions;

use crate::Violation;

/// A multi-threaded runtime for a scenario's hosts.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Violation> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// Runner options for a scenario host: a short poll (hosts on separate store handles hear of
/// each other's enqueues only by polling), leases long enough that none runs out by accident.
pub(crate) fn runner(id: &str, concurrency: u32) -> RunnerOptions {
    RunnerOptions::default()
        .runner_id(id)
        .concurrency(concurrency)
        .poll_interval(Duration::from_millis(20))
        .lease(Duration::from_secs(30))
        .heartbeat(Duration::from_secs(2))
        .stop_timeout(Duration::from_secs(10))
        .cancel_grace(Duration::from_secs(5))
        .progress_flush_interval(Duration::from_millis(50))
}

/// Polls `check` every few milliseconds until it gives a value; a violation naming `what`
/// when `timeout` passes first. Timeouts are generous: they catch a hang, not a slow machine.
pub(crate) fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<Option<T>, Violation>,
) -> Result<T, Violation> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check()? {
            return Ok(value);
        }
        if Instant::now() > deadline {
            return Err(Violation(format!("{what}: still not done after {timeout:?}")));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A small, seeded random source (xorshift64*), so a failing run can be repeated.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// A seed from the clock, for runs that should differ.
    pub(crate) fn from_clock() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |elapsed| elapsed.as_nanos() as u64);
        Rng::new(nanos ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `bound` (0 when `bound` is 0).
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 { 0 } else { self.next_u64() % bound }
    }

    /// True with probability `numerator / denominator`.
    pub(crate) fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }
}
