//! [`Timestamp`]: an instant in UTC with millisecond precision.
//!
//! Everything in the data model is stamped with this type. It is a count of milliseconds since
//! the Unix epoch, so stores can keep it as a plain integer and compare it cheaply, and it is
//! written on the wire as an RFC 3339 UTC string with exactly three fraction digits
//! (`2026-06-21T10:15:30.250Z`), the shape of the TypeScript package.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// An instant in UTC, with millisecond precision.
///
/// Arithmetic saturates instead of overflowing: a lease of `Duration::MAX` simply never
/// expires.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch, `1970-01-01T00:00:00.000Z`.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// The instant `millis` milliseconds after the Unix epoch (negative is before).
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// The current wall-clock time. Prefer a [`Clock`](crate::Clock) where the caller may want
    /// to control time.
    pub fn now_utc() -> Self {
        let now = OffsetDateTime::now_utc();
        let millis = now.unix_timestamp_nanos() / 1_000_000;
        Timestamp(i64::try_from(millis).unwrap_or(i64::MAX))
    }

    /// This instant plus `duration`, saturating at the largest representable instant.
    pub fn saturating_add(self, duration: Duration) -> Self {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(millis))
    }

    /// This instant minus `duration`, saturating at the smallest representable instant.
    pub fn saturating_sub(self, duration: Duration) -> Self {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_sub(millis))
    }

    /// The time from `earlier` to `self`, or zero when `earlier` is not earlier.
    pub fn duration_since(self, earlier: Timestamp) -> Duration {
        let millis = self.0.saturating_sub(earlier.0).max(0);
        Duration::from_millis(u64::try_from(millis).unwrap_or(0))
    }

    /// Parses an RFC 3339 string (any offset) into UTC, truncating below milliseconds.
    ///
    /// # Errors
    ///
    /// [`TimestampParseError`] when the text is not RFC 3339.
    pub fn parse(text: &str) -> Result<Self, TimestampParseError> {
        let parsed = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|_| TimestampParseError { text: truncate_for_error(text) })?;
        let millis = parsed.unix_timestamp_nanos() / 1_000_000;
        i64::try_from(millis)
            .map(Timestamp)
            .map_err(|_| TimestampParseError { text: truncate_for_error(text) })
    }

    /// The RFC 3339 UTC text of this instant, with three fraction digits.
    pub fn to_rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            Ok(at) => {
                let (year, month, day) = (at.year(), u8::from(at.month()), at.day());
                format!(
                    "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
                    at.hour(),
                    at.minute(),
                    at.second(),
                    at.millisecond()
                )
            }
            // Out of the calendar's range: still print something that round-trips in logs.
            Err(_) => format!("@{}ms", self.0),
        }
    }
}

fn truncate_for_error(text: &str) -> String {
    text.chars().take(64).collect()
}

/// A string that is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 timestamp: {text:?}")]
pub struct TimestampParseError {
    /// The offending text (cut to 64 characters).
    pub text: String,
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_millisecond_precision_in_utc() {
        let at = Timestamp::from_millis(1_750_500_930_250);
        assert_eq!(at.to_rfc3339(), "2025-06-21T10:15:30.250Z");
        assert_eq!(Timestamp::EPOCH.to_rfc3339(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn parses_any_offset_into_utc() {
        let at = Timestamp::parse("2025-06-21T12:15:30.250123+02:00").expect("valid");
        assert_eq!(at, Timestamp::from_millis(1_750_500_930_250));
        assert!(Timestamp::parse("yesterday").is_err());
    }

    #[test]
    fn serde_round_trip() {
        let at = Timestamp::from_millis(1_750_500_930_001);
        let json = serde_json::to_string(&at).expect("serializes");
        assert_eq!(json, "\"2025-06-21T10:15:30.001Z\"");
        let back: Timestamp = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, at);
    }

    #[test]
    fn arithmetic_saturates() {
        let at = Timestamp::from_millis(10);
        assert_eq!(at.saturating_add(Duration::MAX), Timestamp::from_millis(i64::MAX));
        assert_eq!(at.saturating_add(Duration::from_millis(5)).as_millis(), 15);
        assert_eq!(at.duration_since(Timestamp::from_millis(20)), Duration::ZERO);
        assert_eq!(Timestamp::from_millis(25).duration_since(at), Duration::from_millis(15));
    }
}
