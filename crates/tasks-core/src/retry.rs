//! Retry maths: [`Backoff`] (exponential with a cap and jitter) and [`RandomSource`], so the
//! jitter is deterministic under test.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::InvalidInput;

/// Exponential backoff between attempts.
///
/// The delay after failed attempt `n` (1-based) is `min × factor^(n-1)`, capped at `max`; with
/// jitter `j`, it is then drawn uniformly from `[delay × (1 − j), delay]`, so retries of many
/// tasks that failed together spread out and no delay ever exceeds `max`.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backoff {
    /// The first delay.
    #[serde(rename = "minMs", with = "crate::serde_ms::required")]
    pub min: Duration,
    /// The largest delay.
    #[serde(rename = "maxMs", with = "crate::serde_ms::required")]
    pub max: Duration,
    /// Growth per attempt (at least 1).
    pub factor: f64,
    /// Fraction of the delay that may be shaved off at random (0 to 1).
    pub jitter: f64,
}

impl Default for Backoff {
    /// 1 s, doubling, up to 5 minutes, with 20% jitter.
    fn default() -> Self {
        Backoff {
            min: Duration::from_secs(1),
            max: Duration::from_secs(300),
            factor: 2.0,
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// A backoff with no jitter.
    pub fn exponential(min: Duration, max: Duration, factor: f64) -> Self {
        Backoff { min, max, factor, jitter: 0.0 }
    }

    /// A constant delay.
    pub fn constant(delay: Duration) -> Self {
        Backoff { min: delay, max: delay, factor: 1.0, jitter: 0.0 }
    }

    /// Checks the parameters: `min <= max`, a finite `factor >= 1`, `jitter` in `[0, 1]`.
    ///
    /// # Errors
    ///
    /// [`InvalidInput::Range`] naming the parameter.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.min > self.max {
            return Err(InvalidInput::Range { field: "backoff.min", expected: "at most max" });
        }
        if !self.factor.is_finite() || self.factor < 1.0 {
            return Err(InvalidInput::Range { field: "backoff.factor", expected: "at least 1" });
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(InvalidInput::Range { field: "backoff.jitter", expected: "from 0 to 1" });
        }
        Ok(())
    }

    /// The delay before the retry that follows failed attempt `attempt` (1-based).
    pub fn delay(&self, attempt: u32, random: &mut dyn RandomSource) -> Duration {
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let base = self.min.as_secs_f64() * self.factor.max(1.0).powi(exponent);
        let capped = base.min(self.max.as_secs_f64()).max(0.0);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let drawn = capped * (1.0 - jitter * random.next_f64());
        Duration::try_from_secs_f64(drawn).unwrap_or(self.max)
    }
}

/// A source of uniform numbers in `[0, 1)`.
pub trait RandomSource: Send {
    /// The next number in `[0, 1)`.
    fn next_f64(&mut self) -> f64;
}

/// A small deterministic generator (SplitMix64): the same seed gives the same sequence.
#[derive(Clone, Debug)]
pub struct SeededRandom {
    state: u64,
}

impl SeededRandom {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SeededRandom { state: seed }
    }

    /// A generator seeded from the system (the random bits of a fresh ULID).
    pub fn from_entropy() -> Self {
        let ulid = ulid::Ulid::generate();
        // The low 64 bits of a ULID are random.
        SeededRandom::new(u64::try_from(ulid.0 & u128::from(u64::MAX)).unwrap_or(0))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl RandomSource for SeededRandom {
    fn next_f64(&mut self) -> f64 {
        // 53 random bits make every double in [0, 1) reachable with equal spacing.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(f64);
    impl RandomSource for Fixed {
        fn next_f64(&mut self) -> f64 {
            self.0
        }
    }

    #[test]
    fn grows_exponentially_up_to_the_cap() {
        let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(10), 2.0);
        let delays: Vec<u64> =
            (1..=6).map(|n| backoff.delay(n, &mut Fixed(0.5)).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 10, 10]);
        assert_eq!(backoff.delay(u32::MAX, &mut Fixed(0.0)), Duration::from_secs(10));
    }

    #[test]
    fn jitter_shaves_at_most_its_fraction() {
        let backoff = Backoff {
            jitter: 0.5,
            ..Backoff::exponential(Duration::from_secs(4), Duration::from_secs(4), 1.0)
        };
        assert_eq!(backoff.delay(1, &mut Fixed(0.0)), Duration::from_secs(4));
        assert_eq!(backoff.delay(1, &mut Fixed(0.5)), Duration::from_secs(3));
        let mut random = SeededRandom::new(7);
        for _ in 0..1000 {
            let delay = backoff.delay(1, &mut random);
            assert!(delay >= Duration::from_secs(2) && delay <= Duration::from_secs(4));
        }
    }

    #[test]
    fn seeded_jitter_is_deterministic() {
        let backoff = Backoff::default();
        let run = |seed| {
            let mut random = SeededRandom::new(seed);
            (1..=8).map(|n| backoff.delay(n, &mut random)).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn validation_names_the_parameter() {
        let bad = Backoff { factor: 0.5, ..Backoff::default() };
        assert_eq!(
            bad.validate(),
            Err(InvalidInput::Range { field: "backoff.factor", expected: "at least 1" })
        );
        assert!(Backoff::default().validate().is_ok());
    }
}
