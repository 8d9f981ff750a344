//! [`Driver`]: which kind of store a configuration names, and the cargo feature that builds it.

use std::fmt;
use std::str::FromStr;

use super::error::StoreFactoryError;

/// A kind of store the factory can create.
///
/// Parsed from `sqlite`, `postgres` or `postgresql` (any case); displayed as `sqlite` or
/// `postgres`. Whether this build can create it depends on a cargo feature of this crate
/// ([`Driver::feature`], [`Driver::is_enabled`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Driver {
    /// The embedded SQLite store (`tasks-store-sqlite`), feature `sqlite`.
    Sqlite,
    /// The PostgreSQL store (`tasks-store-postgres`), feature `postgres`.
    Postgres,
}

impl Driver {
    /// Every driver, enabled or not.
    pub const ALL: [Driver; 2] = [Driver::Sqlite, Driver::Postgres];

    /// The driver's name as written in configuration (`sqlite`, `postgres`).
    pub const fn name(self) -> &'static str {
        match self {
            Driver::Sqlite => "sqlite",
            Driver::Postgres => "postgres",
        }
    }

    /// The cargo feature of this crate that builds the driver.
    pub const fn feature(self) -> &'static str {
        match self {
            Driver::Sqlite => "sqlite",
            Driver::Postgres => "postgres",
        }
    }

    /// Whether this build includes the driver.
    pub const fn is_enabled(self) -> bool {
        match self {
            Driver::Sqlite => cfg!(feature = "sqlite"),
            Driver::Postgres => cfg!(feature = "postgres"),
        }
    }

    /// `Ok` when this build includes the driver, else [`StoreFactoryError::DriverDisabled`].
    ///
    /// # Errors
    ///
    /// [`StoreFactoryError::DriverDisabled`] naming the feature to turn on.
    pub fn require_enabled(self) -> Result<(), StoreFactoryError> {
        self.require_enabled_in(Driver::is_enabled)
    }

    /// As [`Driver::require_enabled`], with the set of built drivers given, so the refusal is
    /// tested whatever features this build has.
    fn require_enabled_in(self, enabled: impl Fn(Driver) -> bool) -> Result<(), StoreFactoryError> {
        if enabled(self) {
            Ok(())
        } else {
            Err(StoreFactoryError::DriverDisabled { driver: self, feature: self.feature() })
        }
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Driver {
    type Err = StoreFactoryError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Driver::Sqlite),
            "postgres" | "postgresql" => Ok(Driver::Postgres),
            _ => Err(StoreFactoryError::UnknownDriver { name: cut(text, 40) }),
        }
    }
}

/// `text` cut to at most `max` characters, for messages.
pub(crate) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_in_any_case() {
        assert_eq!("sqlite".parse::<Driver>().ok(), Some(Driver::Sqlite));
        assert_eq!("PostgreSQL".parse::<Driver>().ok(), Some(Driver::Postgres));
        assert_eq!(" postgres ".parse::<Driver>().ok(), Some(Driver::Postgres));
        let err = "mysql".parse::<Driver>().expect_err("unknown");
        assert_eq!(err.kind(), super::super::StoreFactoryErrorKind::UnknownDriver);
    }

    #[test]
    fn names_round_trip() {
        for driver in Driver::ALL {
            assert_eq!(driver.to_string().parse::<Driver>().ok(), Some(driver));
        }
    }

    #[test]
    fn a_disabled_driver_names_its_feature() {
        let only_sqlite = |driver| driver == Driver::Sqlite;
        assert!(Driver::Sqlite.require_enabled_in(only_sqlite).is_ok());
        let err = Driver::Postgres.require_enabled_in(only_sqlite).expect_err("left out");
        assert!(matches!(
            err,
            StoreFactoryError::DriverDisabled { driver: Driver::Postgres, feature: "postgres" }
        ));
        assert_eq!(
            err.to_string(),
            "the postgres store is not included in this build: enable the `postgres` feature of the `tasks` crate"
        );
        for driver in Driver::ALL {
            assert_eq!(driver.require_enabled().is_ok(), driver.is_enabled());
        }
    }

    #[test]
    fn cut_keeps_short_text_and_marks_long_text() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("abcdef", 3), "abc...");
    }
}
