//! What the factory creates: [`StoreConfig`] (a driver and where its store lives, the spec's
//! `{ driver, sqlite: {...}, postgres: {...} }`), [`SchemaTarget`] (what a schema script is
//! for, no database needed) and [`IntoStoreConfig`], which lets the factory take a config or a
//! URL alike.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::driver::Driver;
use super::error::StoreFactoryError;
use super::url::{self, redact_url};

/// Where an SQLite store lives.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct SqliteConfig {
    /// The database file (created when missing; its directory must exist).
    pub path: PathBuf,
}

impl SqliteConfig {
    /// The store in the file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteConfig { path: path.into() }
    }
}

/// Where a PostgreSQL store lives and how it is laid out.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostgresConfig {
    /// The connection URL (`postgres://user:password@host:port/db`).
    pub url: String,
    /// The schema holding the tables (the store's default, `public`, when `None`).
    pub schema: Option<String>,
    /// The prefix of every table (the store's default, `tasks_`, when `None`).
    pub table_prefix: Option<String>,
}

impl PostgresConfig {
    /// The store at `url`, in the default schema with the default prefix.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresConfig { url: url.into(), schema: None, table_prefix: None }
    }

    /// The same store in another schema.
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// The same store with another table prefix.
    #[must_use]
    pub fn table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.table_prefix = Some(prefix.into());
        self
    }
}

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &redact_url(&self.url))
            .field("schema", &self.schema)
            .field("table_prefix", &self.table_prefix)
            .finish()
    }
}

/// A store to create: its driver and where it lives.
///
/// Build one from a URL (`"sqlite:.data/tasks.sqlite".parse()`, [`StoreConfig::parse`]) or
/// directly ([`StoreConfig::sqlite`], [`StoreConfig::postgres`]). Displayed as a URL with its
/// password hidden.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum StoreConfig {
    /// An SQLite file.
    Sqlite(SqliteConfig),
    /// A PostgreSQL database.
    Postgres(PostgresConfig),
}

impl StoreConfig {
    /// An SQLite store in the file at `path`.
    pub fn sqlite(path: impl Into<PathBuf>) -> Self {
        StoreConfig::Sqlite(SqliteConfig::new(path))
    }

    /// A PostgreSQL store at `url`.
    pub fn postgres(url: impl Into<String>) -> Self {
        StoreConfig::Postgres(PostgresConfig::new(url))
    }

    /// Parses a store URL: `sqlite:PATH`, `sqlite://PATH`, `postgres://...`,
    /// `postgresql://...`.
    ///
    /// # Errors
    ///
    /// [`StoreFactoryError::InvalidUrl`] naming what is wrong (no scheme, an unknown scheme,
    /// no path, a PostgreSQL URL the driver cannot parse...). A URL whose driver this build
    /// leaves out still parses; creating its store gives
    /// [`StoreFactoryError::DriverDisabled`].
    pub fn parse(url: &str) -> Result<Self, StoreFactoryError> {
        url::parse(url)
    }

    /// The driver.
    pub fn driver(&self) -> Driver {
        url::driver_of(self)
    }

    /// The SQLite file, for an SQLite store.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            StoreConfig::Sqlite(config) => Some(&config.path),
            StoreConfig::Postgres(_) => None,
        }
    }

    /// The same store in another PostgreSQL schema.
    ///
    /// # Errors
    ///
    /// [`StoreFactoryError::UnsupportedOption`] for an SQLite store, which has no schemas.
    pub fn with_schema(self, schema: impl Into<String>) -> Result<Self, StoreFactoryError> {
        match self {
            StoreConfig::Postgres(config) => Ok(StoreConfig::Postgres(config.schema(schema))),
            other => Err(unsupported(other.driver(), "schema")),
        }
    }

    /// The same store with another PostgreSQL table prefix.
    ///
    /// # Errors
    ///
    /// [`StoreFactoryError::UnsupportedOption`] for an SQLite store, whose table names are
    /// fixed.
    pub fn with_table_prefix(self, prefix: impl Into<String>) -> Result<Self, StoreFactoryError> {
        match self {
            StoreConfig::Postgres(config) => Ok(StoreConfig::Postgres(config.table_prefix(prefix))),
            other => Err(unsupported(other.driver(), "table prefix")),
        }
    }
}

/// The refusal of an option `driver` has no use for.
pub(super) fn unsupported(driver: Driver, option: &'static str) -> StoreFactoryError {
    StoreFactoryError::UnsupportedOption { driver, option }
}

impl fmt::Display for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreConfig::Sqlite(config) => write!(f, "sqlite:{}", config.path.display()),
            StoreConfig::Postgres(config) => {
                f.write_str(&redact_url(&config.url))?;
                if let Some(schema) = &config.schema {
                    write!(f, " (schema {schema})")?;
                }
                if let Some(prefix) = &config.table_prefix {
                    write!(f, " (table prefix {prefix})")?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for StoreConfig {
    type Err = StoreFactoryError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        StoreConfig::parse(url)
    }
}

/// What the factory functions take: a [`StoreConfig`], or a URL to parse into one.
pub trait IntoStoreConfig {
    /// The config.
    ///
    /// # Errors
    ///
    /// As [`StoreConfig::parse`] for URLs.
    fn into_store_config(self) -> Result<StoreConfig, StoreFactoryError>;
}

impl IntoStoreConfig for StoreConfig {
    fn into_store_config(self) -> Result<StoreConfig, StoreFactoryError> {
        Ok(self)
    }
}

impl IntoStoreConfig for &StoreConfig {
    fn into_store_config(self) -> Result<StoreConfig, StoreFactoryError> {
        Ok(self.clone())
    }
}

impl IntoStoreConfig for &str {
    fn into_store_config(self) -> Result<StoreConfig, StoreFactoryError> {
        StoreConfig::parse(self)
    }
}

impl IntoStoreConfig for String {
    fn into_store_config(self) -> Result<StoreConfig, StoreFactoryError> {
        StoreConfig::parse(&self)
    }
}

impl IntoStoreConfig for &String {
    fn into_store_config(self) -> Result<StoreConfig, StoreFactoryError> {
        StoreConfig::parse(self)
    }
}

/// What a schema script is for: a driver and, for PostgreSQL, the schema and table prefix.
/// No database is needed to print one.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct SchemaTarget {
    /// The driver.
    pub driver: Driver,
    /// The PostgreSQL schema (`public` when `None`).
    pub schema: Option<String>,
    /// The PostgreSQL table prefix (`tasks_` when `None`).
    pub table_prefix: Option<String>,
}

impl SchemaTarget {
    /// The schema of `driver`, with the default layout.
    pub fn new(driver: Driver) -> Self {
        SchemaTarget { driver, schema: None, table_prefix: None }
    }

    /// The same target in another PostgreSQL schema.
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// The same target with another PostgreSQL table prefix.
    #[must_use]
    pub fn table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.table_prefix = Some(prefix.into());
        self
    }
}

impl From<Driver> for SchemaTarget {
    fn from(driver: Driver) -> Self {
        SchemaTarget::new(driver)
    }
}

impl From<&StoreConfig> for SchemaTarget {
    fn from(config: &StoreConfig) -> Self {
        match config {
            StoreConfig::Sqlite(_) => SchemaTarget::new(Driver::Sqlite),
            StoreConfig::Postgres(config) => SchemaTarget {
                driver: Driver::Postgres,
                schema: config.schema.clone(),
                table_prefix: config.table_prefix.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::StoreFactoryErrorKind;

    #[test]
    fn display_is_a_url_without_the_password() {
        let config = StoreConfig::postgres("postgres://app:pw@db/app")
            .with_schema("jobs")
            .and_then(|config| config.with_table_prefix("t_"))
            .expect("postgres has both options");
        assert_eq!(config.to_string(), "postgres://app:***@db/app (schema jobs) (table prefix t_)");
        assert!(!format!("{config:?}").contains("pw"));
        assert_eq!(StoreConfig::sqlite("a/b.db").to_string(), "sqlite:a/b.db");
    }

    #[test]
    fn sqlite_has_no_schema_or_prefix() {
        let err = StoreConfig::sqlite("t.db").with_schema("x").expect_err("no schema");
        assert_eq!(err.kind(), StoreFactoryErrorKind::UnsupportedOption);
        let err = StoreConfig::sqlite("t.db").with_table_prefix("x").expect_err("no prefix");
        assert_eq!(err.to_string(), "the sqlite store has no table prefix option");
    }

    #[test]
    fn urls_and_configs_convert_alike() {
        let parsed = "sqlite:t.db".into_store_config().expect("valid");
        assert_eq!(parsed, StoreConfig::sqlite("t.db"));
        assert_eq!(String::from("sqlite:t.db").into_store_config().expect("valid"), parsed);
        assert_eq!((&parsed).into_store_config().expect("valid"), parsed);
        assert_eq!(parsed.driver(), Driver::Sqlite);
        assert_eq!(SchemaTarget::from(&parsed), SchemaTarget::new(Driver::Sqlite));
    }
}
