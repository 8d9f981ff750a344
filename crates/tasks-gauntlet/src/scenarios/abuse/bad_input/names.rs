//! Hostile store names. PostgreSQL: schema names and table prefixes that are not plain
//! identifiers (SQL in them, quotes, a NUL, uppercase, non-ASCII, too long, a system schema)
//! are refused by both `prepare_schema` and `connect` with `InvalidIdentifier`, and the
//! server's schemas and tables are the same afterwards. SQLite: paths that are not a database
//! file (in memory, empty, a directory, a missing directory, a file that is not SQLite) are
//! refused with a typed open error, and a file that is not SQLite is left byte for byte.

use tasks_store_postgres::{
    PostgresErrorKind, PostgresStoreOptions, PostgresTaskStore, prepare_schema,
};
use tasks_store_sqlite::{OpenErrorKind, SqliteOptions, SqliteTaskStore};

use crate::abuse_support::probe::pg;
use crate::abuse_support::store::StoreUnderTest;
use crate::{Violation, ensure};

/// Schema names no store may use.
const HOSTILE_SCHEMAS: &[&str] = &[
    "",
    "public\"; DROP SCHEMA public CASCADE; --",
    "a'b",
    "x\0y",
    "Tasks",
    "tâches",
    "has space",
    "a.b",
    "1abc",
    "pg_catalog",
    "pg_toast",
    "information_schema",
    "sssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss",
];

/// Table prefixes no store may use.
const HOSTILE_PREFIXES: &[&str] = &[
    "",
    "x\"; DROP TABLE t; --",
    "T_",
    "a-b",
    "é_",
    "p\0",
    "pppppppppppppppppppppppppppppppppppppppppppppppp",
];

pub(super) fn check(store: &StoreUnderTest) -> Result<u32, Violation> {
    match store.postgres() {
        Some((url, options)) => postgres(url, options),
        None => sqlite(),
    }
}

fn postgres(url: &str, options: &PostgresStoreOptions) -> Result<u32, Violation> {
    let mut client = postgres::Client::connect(url, postgres::NoTls).map_err(pg)?;
    // What a hostile name could have created: a schema of that name, or relations in the
    // store's own schema (hostile prefixes), `public` or `information_schema`. Other tests
    // share the server, so the rest of it may change meanwhile.
    // (A name holding NUL cannot even be sent as a parameter, let alone be created.)
    let watched: Vec<String> = HOSTILE_SCHEMAS
        .iter()
        .filter(|name| !name.contains('\0'))
        .map(|name| (*name).to_owned())
        .collect();
    let homes = vec!["public".to_owned(), "information_schema".to_owned(), options.schema.clone()];
    let inventory = |client: &mut postgres::Client| -> Result<Vec<String>, Violation> {
        let rows = client.query(
            "SELECT n.nspname::text || '.' || coalesce(c.relname::text, '') FROM pg_namespace n \
             LEFT JOIN pg_class c ON c.relnamespace = n.oid \
             WHERE n.nspname::text = ANY($1) OR n.nspname::text = ANY($2) ORDER BY 1",
            &[&watched, &homes],
        ).map_err(pg)?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    };
    let before = inventory(&mut client)?;
    let mut tally = 0;
    let mut attempts: Vec<(String, PostgresStoreOptions)> = Vec::new();
    for schema in HOSTILE_SCHEMAS {
        attempts.push((format!("schema {schema:?}"), options.clone().schema(*schema)));
    }
    for prefix in HOSTILE_PREFIXES {
        attempts.push((format!("table prefix {prefix:?}"), options.clone().table_prefix(*prefix)));
    }
    for (what, hostile) in attempts {
        let prepared = prepare_schema(&hostile).err().map(|error| error.kind());
        let connected = PostgresTaskStore::connect(hostile).err().map(|error| error.kind());
        ensure!(
            prepared == Some(PostgresErrorKind::InvalidIdentifier)
                && connected == Some(PostgresErrorKind::InvalidIdentifier),
            "the {what}: prepare gave {prepared:?}, connect gave {connected:?}, not \
             InvalidIdentifier"
        );
        tally += 2;
    }
    let after = inventory(&mut client)?;
    ensure!(
        before == after,
        "hostile names changed the server's schemas or tables: {} objects before, {} after",
        before.len(),
        after.len()
    );
    Ok(tally)
}

fn sqlite() -> Result<u32, Violation> {
    let dir = tempfile::tempdir()?;
    let not_sqlite = dir.path().join("notes.txt");
    let text = b"These are my notes, not a database.\n".repeat(100);
    std::fs::write(&not_sqlite, &text)?;
    let cases = [
        ("an in-memory path", SqliteOptions::new(":memory:"), OpenErrorKind::InvalidOptions),
        ("an empty path", SqliteOptions::new(""), OpenErrorKind::InvalidOptions),
        ("a directory", SqliteOptions::new(dir.path()), OpenErrorKind::NotSqlite),
        (
            "a missing directory",
            SqliteOptions::new(dir.path().join("no/such/dir/tasks.db")),
            OpenErrorKind::MissingDirectory,
        ),
        ("a text file", SqliteOptions::new(&not_sqlite), OpenErrorKind::NotSqlite),
    ];
    let mut tally = 0;
    for (what, options, expected) in cases {
        let opened = SqliteTaskStore::open(options).err().map(|error| error.kind());
        ensure!(opened == Some(expected), "opening {what}: {opened:?}, not {expected:?}");
        tally += 1;
    }
    ensure!(std::fs::read(&not_sqlite)? == text, "the text file was changed by the refused open");
    ensure!(!dir.path().join("no").exists(), "a refused open created directories");
    Ok(tally)
}
