//! Durations in the config file, written for people: `"30s"`, `"5m"`, `"1h 30m"`, `"250ms"`
//! (humantime's syntax). A bare number is refused, so a unit is never guessed.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A duration read from the config file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct ConfigDuration(pub(crate) Duration);

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

const EXPECTED: &str = "a duration with a unit, such as \"30s\", \"5m\" or \"1h 30m\"";

impl Visitor<'_> for DurationVisitor {
    type Value = ConfigDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<ConfigDuration, E> {
        parse(text).map(ConfigDuration).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<ConfigDuration, E> {
        Err(E::custom(format!("{value} has no unit: write {EXPECTED}")))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<ConfigDuration, E> {
        Err(E::custom(format!("{value} has no unit: write {EXPECTED}")))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<ConfigDuration, E> {
        Err(E::custom(format!("{value} has no unit: write {EXPECTED}")))
    }
}

/// Parses a duration as the config file and the command line write it.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|err| format!("invalid duration {text:?} ({err}): write {EXPECTED}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_durations_with_units() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse(" 1h 30m "), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse("5 parsecs").is_err_and(|message| message.contains("5 parsecs")));
        assert!(parse("30").is_err());
    }
}
