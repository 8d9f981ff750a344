//! [`Probe`]: reads a store's tables directly, with a plain rusqlite or postgres connection of
//! its own, so a scenario checks the store's promises without trusting the store's code: the
//! tasks claimed or running per kind and per concurrency key, and a full dump of every table.
//!
//! The probe knows the table layout of both stores (`tasks`, `status`, `kind`,
//! `concurrency_key`); it never writes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::Violation;

/// A direct, read-only view of a store's tables.
pub(crate) enum Probe {
    Sqlite(Connection),
    Postgres { client: Box<postgres::Client>, schema: String, prefix: String },
}

/// The statuses of a claimed-or-running task, as SQL.
const ACTIVE: &str = "status IN ('claimed', 'running')";

impl Probe {
    pub(crate) fn sqlite(path: &Path) -> Result<Self, Violation> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags)?;
        connection.busy_timeout(Duration::from_secs(30))?;
        Ok(Probe::Sqlite(connection))
    }

    pub(crate) fn postgres(url: &str, schema: &str, prefix: &str) -> Result<Self, Violation> {
        let client = postgres::Client::connect(url, postgres::NoTls).map_err(pg)?;
        Ok(Probe::Postgres {
            client: Box::new(client),
            schema: schema.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    /// The tasks table, quoted.
    fn tasks(&self) -> String {
        match self {
            Probe::Sqlite(_) => "\"tasks\"".to_owned(),
            Probe::Postgres { schema, prefix, .. } => format!("\"{schema}\".\"{prefix}tasks\""),
        }
    }

    /// Rows of (text, count) from a query returning a text and an integer column.
    fn counts(&mut self, sql: &str) -> Result<Vec<(String, u64)>, Violation> {
        match self {
            Probe::Sqlite(connection) => {
                let mut statement = connection.prepare(sql)?;
                let rows = statement
                    .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?;
                let mut out = Vec::new();
                for row in rows {
                    let (text, count) = row?;
                    out.push((text, u64::try_from(count).unwrap_or(0)));
                }
                Ok(out)
            }
            Probe::Postgres { client, .. } => Ok(client
                .query(sql, &[])
                .map_err(pg)?
                .iter()
                .map(|row| {
                    (row.get::<_, String>(0), u64::try_from(row.get::<_, i64>(1)).unwrap_or(0))
                })
                .collect()),
        }
    }

    /// Claimed-or-running tasks per kind.
    pub(crate) fn active_per_kind(&mut self) -> Result<BTreeMap<String, u64>, Violation> {
        let sql =
            format!("SELECT kind, count(*) FROM {} WHERE {ACTIVE} GROUP BY kind", self.tasks());
        Ok(self.counts(&sql)?.into_iter().collect())
    }

    /// The most claimed-or-running tasks sharing one concurrency key (0 when none holds one).
    pub(crate) fn busiest_concurrency_key(&mut self) -> Result<u64, Violation> {
        let sql = format!(
            "SELECT concurrency_key, count(*) FROM {} WHERE concurrency_key IS NOT NULL AND \
             {ACTIVE} GROUP BY concurrency_key ORDER BY count(*) DESC LIMIT 1",
            self.tasks()
        );
        Ok(self.counts(&sql)?.first().map_or(0, |(_, count)| *count))
    }

    /// Tasks per status, of the kinds given (every kind when none is).
    pub(crate) fn statuses(&mut self, kinds: &[&str]) -> Result<BTreeMap<String, u64>, Violation> {
        // The kinds are the scenarios' own constants, never outside input.
        let only = if kinds.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = kinds.iter().map(|kind| format!("'{kind}'")).collect();
            format!("WHERE kind IN ({})", list.join(", "))
        };
        let sql = format!("SELECT status, count(*) FROM {} {only} GROUP BY status", self.tasks());
        Ok(self.counts(&sql)?.into_iter().collect())
    }

    /// Open (queued, claimed or running) tasks per dedupe key of `kind`.
    pub(crate) fn open_per_dedupe_key(
        &mut self,
        kind: &str,
    ) -> Result<BTreeMap<String, u64>, Violation> {
        // The kind is one of the scenario's own constants, never outside input.
        let sql = format!(
            "SELECT dedupe_key, count(*) FROM {} WHERE kind = '{kind}' AND dedupe_key IS NOT NULL \
             AND status IN ('queued', 'claimed', 'running') GROUP BY dedupe_key",
            self.tasks()
        );
        Ok(self.counts(&sql)?.into_iter().collect())
    }

    /// Every row of every table of the store, rendered as text and sorted: two dumps are
    /// equal exactly when nothing stored changed.
    pub(crate) fn dump(&mut self) -> Result<Vec<String>, Violation> {
        let mut lines = Vec::new();
        match self {
            Probe::Sqlite(connection) => {
                let tables: Vec<String> = {
                    let mut statement = connection.prepare(
                        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
                    )?;
                    let names = statement.query_map([], |row| row.get::<_, String>(0))?;
                    names.collect::<Result<_, _>>()?
                };
                for table in tables {
                    let mut statement =
                        connection.prepare(&format!("SELECT * FROM \"{table}\""))?;
                    let columns = statement.column_count();
                    let mut rows = statement.query([])?;
                    while let Some(row) = rows.next()? {
                        let mut line = format!("{table}:");
                        for index in 0..columns {
                            line.push_str(&render(row.get_ref(index)?));
                            line.push('|');
                        }
                        lines.push(line);
                    }
                }
            }
            Probe::Postgres { client, schema, .. } => {
                let tables: Vec<String> = client
                    .query(
                        "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY 1",
                        &[&*schema],
                    )
                    .map_err(pg)?
                    .iter()
                    .map(|row| row.get(0))
                    .collect();
                for table in tables {
                    let sql = format!("SELECT t::text FROM \"{schema}\".\"{table}\" t");
                    for row in client.query(&sql, &[]).map_err(pg)? {
                        lines.push(format!("{table}:{}", row.get::<_, String>(0)));
                    }
                }
            }
        }
        lines.sort_unstable();
        Ok(lines)
    }

    /// SQLite's `PRAGMA integrity_check` (`ok` when the file is sound); PostgreSQL has none.
    pub(crate) fn integrity_check(&mut self) -> Result<Option<String>, Violation> {
        match self {
            Probe::Sqlite(connection) => {
                let mut statement = connection.prepare("PRAGMA integrity_check")?;
                let lines = statement.query_map([], |row| row.get::<_, String>(0))?;
                let lines: Vec<String> = lines.collect::<Result<_, _>>()?;
                Ok(Some(lines.join("; ")))
            }
            Probe::Postgres { .. } => Ok(None),
        }
    }
}

fn render(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(number) => number.to_string(),
        ValueRef::Real(number) => number.to_string(),
        ValueRef::Text(text) => format!("{:?}", String::from_utf8_lossy(text)),
        ValueRef::Blob(bytes) => format!("blob:{bytes:?}"),
    }
}

/// A PostgreSQL error as a violation, with the server's message (the error's own text is only
/// "db error").
pub(crate) fn pg(error: postgres::Error) -> Violation {
    match error.as_db_error() {
        Some(db) => Violation(format!("PostgreSQL: {} ({})", db.message(), db.code().code())),
        None => Violation(format!("PostgreSQL: {error}")),
    }
}

/// The first lines where two dumps differ, for a violation message.
pub(crate) fn dump_difference(before: &[String], after: &[String]) -> String {
    let gone: Vec<&String> = before.iter().filter(|line| !after.contains(line)).take(3).collect();
    let new: Vec<&String> = after.iter().filter(|line| !before.contains(line)).take(3).collect();
    let cut = |lines: Vec<&String>| -> Vec<String> {
        lines.into_iter().map(|line| line.chars().take(300).collect()).collect()
    };
    format!(
        "{} rows before, {} after; gone: {:?}; new: {:?}",
        before.len(),
        after.len(),
        cut(gone),
        cut(new)
    )
}
