//! The reliability gauntlet: scenarios that try to lose an acknowledged task, run one twice
//! beyond what leases allow, or break a store with bad input, on SQLite and PostgreSQL.
//!
//! Each scenario is a [`Scenario`]: a name, the stores it applies to, and a function that runs
//! it against one store and returns a [`Report`] of what was done and the figures, or a
//! [`Violation`]. `cargo xtask gauntlet` runs the full variants; the `--quick` variants run in
//! the normal test suite (`tests/quick.rs`).

pub mod abuse_support;
pub mod faults_support;
pub mod scenarios;

use std::fmt;

/// A store the gauntlet runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// The embedded SQLite store, on a temporary file.
    Sqlite,
    /// The PostgreSQL store, on a throwaway cluster (or `TASKS_TEST_POSTGRES_URL`).
    Postgres,
}

impl StoreKind {
    /// Both stores.
    pub const ALL: [StoreKind; 2] = [StoreKind::Sqlite, StoreKind::Postgres];

    /// The store's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a scenario is run.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The store under test.
    pub store: StoreKind,
    /// The short variant for the normal test suite: fewer tasks, shorter phases.
    pub quick: bool,
}

/// What a scenario did, and the figures it measured, one line each.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The lines, in order.
    pub lines: Vec<String>,
}

impl Report {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a line saying what was done.
    pub fn say(&mut self, line: impl Into<String>) -> &mut Self {
        self.lines.push(line.into());
        self
    }

    /// Adds a named figure.
    pub fn figure(&mut self, name: &str, value: impl fmt::Display) -> &mut Self {
        self.lines.push(format!("{name}: {value}"));
        self
    }
}

/// A broken promise (or a scenario that could not run), with what was seen.
///
/// Any error converts into one, so `?` works inside a scenario; it is deliberately not an
/// `Error` itself, which would make that conversion overlap with `From<T> for T`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation(pub String);

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for Violation {
    fn from(error: E) -> Self {
        Violation(error.to_string())
    }
}

/// Returns early with a [`Violation`] when `condition` is false.
#[macro_export]
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err($crate::Violation(format!($($message)+)));
        }
    };
}

/// One scenario of the gauntlet.
#[derive(Clone, Copy)]
pub struct Scenario {
    /// A short kebab-case name (`--only NAME`).
    pub name: &'static str,
    /// The stores it applies to.
    pub stores: &'static [StoreKind],
    /// Runs it once against `ctx.store`.
    pub run: fn(&Ctx) -> Result<Report, Violation>,
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scenario").field("name", &self.name).field("stores", &self.stores).finish()
    }
}

/// Runs the quick variant of the scenario named `name` on every store it applies to; the
/// violations, one line each, as the error. For the test suite: one test per scenario. Each
/// report is printed (the test harness shows it with `--nocapture` or on failure).
pub fn run_quick(name: &str) -> Result<(), String> {
    let Some(scenario) = scenarios::all().into_iter().find(|scenario| scenario.name == name) else {
        return Err(format!("no scenario is named {name:?}"));
    };
    let failures: Vec<String> = scenario
        .stores
        .iter()
        .filter_map(|&store| match (scenario.run)(&Ctx { store, quick: true }) {
            Ok(report) => {
                println!("ok   {name} [{store}]");
                for line in &report.lines {
                    println!("       {line}");
                }
                None
            }
            Err(violation) => Some(format!("{name} [{store}]: {violation}")),
        })
        .collect();
    if failures.is_empty() { Ok(()) } else { Err(failures.join("\n")) }
}
