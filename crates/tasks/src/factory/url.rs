//! Store URLs: `sqlite:PATH`, `sqlite://PATH`, `postgres://...` and `postgresql://...`, parsed
//! into a [`StoreConfig`], and [`redact_url`], which hides a URL's password.
//!
//! The SQLite forms follow sqlx: everything after `sqlite:` (or `sqlite://`) is the path, as
//! written, so `sqlite:.data/tasks.sqlite` and `sqlite://.data/tasks.sqlite` are relative and
//! `sqlite:///var/lib/tasks.sqlite` is absolute. A PostgreSQL URL is handed to the driver as
//! is; when the `postgres` feature is on it is parsed here already, so a bad URL is refused
//! before any connection is tried.

use std::path::PathBuf;

use super::config::{PostgresConfig, SqliteConfig, StoreConfig};
use super::driver::{Driver, cut};
use super::error::StoreFactoryError;

/// Parses a store URL.
pub(crate) fn parse(url: &str) -> Result<StoreConfig, StoreFactoryError> {
    let invalid =
        |reason: &str| StoreFactoryError::InvalidUrl { url: shown(url), reason: reason.to_owned() };
    let trimmed = url.trim();
    if trimmed.is_empty() {
        return Err(invalid("it is empty; write sqlite:PATH or postgres://USER@HOST/DB"));
    }
    let Some((scheme, rest)) = trimmed.split_once(':') else {
        return Err(invalid(&format!(
            "it has no scheme; for an SQLite file write sqlite:{}",
            cut(trimmed, 80)
        )));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" | "sqlite3" => sqlite(rest).map_err(|reason| invalid(&reason)),
        "postgres" | "postgresql" => {
            if !rest.starts_with("//") {
                return Err(invalid("a PostgreSQL URL starts with postgres://"));
            }
            if rest.len() == 2 {
                return Err(invalid("it names no server; write postgres://USER@HOST:PORT/DB"));
            }
            let config = PostgresConfig::new(trimmed);
            check_postgres(&config).map_err(|reason| invalid(&reason))?;
            Ok(StoreConfig::Postgres(config))
        }
        other => Err(invalid(&format!(
            "unknown scheme {:?}; use sqlite:PATH or postgres://...",
            cut(other, 20)
        ))),
    }
}

/// The SQLite path after the scheme.
fn sqlite(rest: &str) -> Result<StoreConfig, String> {
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path.is_empty() {
        return Err("it names no file; write sqlite:PATH, e.g. sqlite:.data/tasks.sqlite".into());
    }
    if path == ":memory:" {
        return Err("in-memory SQLite is not supported: the store needs a file its \
                    connections (and other processes) share"
            .into());
    }
    if path.contains('?') {
        return Err("SQLite URLs take no ?options; the store sets its own".into());
    }
    Ok(StoreConfig::Sqlite(SqliteConfig::new(PathBuf::from(path))))
}

/// Checks a PostgreSQL URL with the driver's parser when it is built in.
#[cfg(feature = "postgres")]
fn check_postgres(config: &PostgresConfig) -> Result<(), String> {
    // The driver's message never repeats the URL (which may hold a password).
    tasks_store_postgres::PostgresStoreOptions::from_url(&config.url)
        .map(|_| ())
        .map_err(|err| err.to_string())
}

/// Without the driver, the URL is checked when a build that has it uses it.
#[cfg(not(feature = "postgres"))]
fn check_postgres(_config: &PostgresConfig) -> Result<(), String> {
    Ok(())
}

/// A URL as shown in messages: password hidden, cut to 200 characters.
fn shown(url: &str) -> String {
    cut(&redact_url(url.trim()), 200)
}

/// `url` with the password of its `user:password@` part replaced by `***`; other text as is.
///
/// ```
/// assert_eq!(tasks::redact_url("postgres://app:s3cret@db:5432/app"), "postgres://app:***@db:5432/app");
/// assert_eq!(tasks::redact_url("sqlite:.data/tasks.sqlite"), "sqlite:.data/tasks.sqlite");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some(start) = url.find("://").map(|at| at + 3) else { return url.to_owned() };
    let authority_end = url[start..].find(['/', '?', '#']).map_or(url.len(), |end| start + end);
    let authority = &url[start..authority_end];
    let Some(at) = authority.rfind('@') else { return url.to_owned() };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else { return url.to_owned() };
    format!("{}{}:***{}", &url[..start], &userinfo[..colon], &url[start + at..])
}

/// The driver a URL names, without checking the rest of it.
pub(crate) fn driver_of(config: &StoreConfig) -> Driver {
    match config {
        StoreConfig::Sqlite(_) => Driver::Sqlite,
        StoreConfig::Postgres(_) => Driver::Postgres,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::factory::StoreFactoryErrorKind;

    fn sqlite_path(url: &str) -> PathBuf {
        match parse(url) {
            Ok(StoreConfig::Sqlite(config)) => config.path,
            other => panic!("{url}: {other:?}"),
        }
    }

    fn refusal(url: &str) -> String {
        match parse(url) {
            Err(err) => {
                assert_eq!(err.kind(), StoreFactoryErrorKind::InvalidUrl, "{url}");
                err.to_string()
            }
            Ok(config) => panic!("{url} was accepted as {config:?}"),
        }
    }

    #[test]
    fn sqlite_urls_keep_the_path_as_written() {
        assert_eq!(sqlite_path("sqlite:.data/tasks.sqlite"), Path::new(".data/tasks.sqlite"));
        assert_eq!(sqlite_path("sqlite://.data/tasks.sqlite"), Path::new(".data/tasks.sqlite"));
        assert_eq!(sqlite_path("sqlite:///var/lib/t.db"), Path::new("/var/lib/t.db"));
        assert_eq!(sqlite_path("SQLITE:/abs/t.db"), Path::new("/abs/t.db"));
        assert_eq!(sqlite_path("  sqlite:t.db "), Path::new("t.db"));
    }

    #[test]
    fn postgres_urls_are_kept_whole() {
        for url in ["postgres://app@db/app", "postgresql://u:p@127.0.0.1:5433/x"] {
            match parse(url) {
                Ok(StoreConfig::Postgres(config)) => assert_eq!(config.url, url),
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn bad_urls_name_the_problem() {
        assert!(refusal("").contains("empty"));
        assert!(refusal("tasks.db").contains("no scheme"));
        assert!(refusal("mysql://db/x").contains("unknown scheme \"mysql\""));
        assert!(refusal("sqlite:").contains("names no file"));
        assert!(refusal("sqlite://").contains("names no file"));
        assert!(refusal("sqlite::memory:").contains("in-memory"));
        assert!(refusal("sqlite:t.db?mode=ro").contains("no ?options"));
        assert!(refusal("postgres:db").contains("starts with postgres://"));
        assert!(refusal("postgres://").contains("names no server"));
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn a_postgres_url_the_driver_cannot_parse_is_refused_without_its_password() {
        let message = refusal("postgres://app:hunter2@db:notaport/app");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(message.contains("app:***@db"), "{message}");
    }

    #[test]
    fn redaction_hides_only_the_password() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("postgres://h/db?x=a@b"), "postgres://h/db?x=a@b");
        assert_eq!(redact_url("postgres://u:p@ss@h"), "postgres://u:***@h");
        assert_eq!(redact_url("host=h password=x"), "host=h password=x");
    }
}
