//! Waiting with patience, and the figures scenarios report: percentiles and rates.

use std::time::{Duration, Instant};

use crate::Violation;

/// Polls `check` every `every` until it gives `Some`, failing after `patience` with a message
/// saying what was awaited and what `check` last saw.
///
/// # Errors
///
/// `check` failed, or the patience ran out.
pub fn wait_for<T>(
    what: &str,
    patience: Duration,
    every: Duration,
    mut check: impl FnMut() -> Result<Result<T, String>, Violation>,
) -> Result<T, Violation> {
    let deadline = Instant::now() + patience;
    loop {
        let seen = match check()? {
            Ok(value) => return Ok(value),
            Err(seen) => seen,
        };
        if Instant::now() >= deadline {
            return Err(Violation(format!(
                "timed out after {} s waiting for {what} (last seen: {seen})",
                patience.as_secs()
            )));
        }
        std::thread::sleep(every);
    }
}

/// The `p`-th percentile (0 to 100) of `values` by nearest rank; zero when empty.
pub fn percentile(values: &[Duration], p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A duration as milliseconds with one decimal, for reports.
pub fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// `count` per second over `took`, for reports.
pub fn rate(count: usize, took: Duration) -> String {
    let seconds = took.as_secs_f64();
    if seconds <= 0.0 {
        return "n/a".to_owned();
    }
    format!("{:.0}/s", count as f64 / seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&values, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&values, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&values, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 99.0), Duration::ZERO);
        assert_eq!(percentile(&[Duration::from_millis(7)], 0.0), Duration::from_millis(7));
    }

    #[test]
    fn waiting_gives_up_saying_what_it_saw() {
        let error = wait_for("nothing", Duration::ZERO, Duration::ZERO, || {
            Ok::<Result<(), String>, Violation>(Err("still nothing".into()))
        })
        .expect_err("gives up");
        assert!(error.0.contains("still nothing"), "{error}");
        let found = wait_for("one", Duration::ZERO, Duration::ZERO, || Ok(Ok(1)));
        assert_eq!(found, Ok(1));
    }
}
