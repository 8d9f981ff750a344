//! The store's warnings ([`TaskStore::warnings`](tasks_core::TaskStore::warnings)): a
//! transaction held open in the store's database for longer than
//! [`PostgresStoreOptions::long_transaction_warning`](crate::PostgresStoreOptions). While it
//! lasts, vacuum cannot remove the rows dead since it began, so every claim and queue read
//! walks over more of them: the queue slows down without any error. The warning names the
//! backend, its application and its last statement, so someone can end it.
//!
//! Seeing other users' sessions in `pg_stat_activity` needs the `pg_read_all_stats` role (or
//! the same user); without it their transactions are invisible and nothing is reported.

use tasks_core::warning::LONG_TRANSACTION_CODE;
use tasks_core::{StoreError, StoreWarning};

use crate::pool::Db;
use crate::store::{Durability, PostgresTaskStore};

/// The oldest client transaction of this database (other than ours) open for longer than `$1`
/// seconds, and how many there are.
const OLDEST_TRANSACTION: &str = "SELECT pid, coalesce(application_name, ''), \
     coalesce(state, 'unknown state'), \
     (extract(epoch FROM clock_timestamp() - xact_start))::float8, \
     left(regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), 160), \
     count(*) OVER () \
     FROM pg_stat_activity \
     WHERE datname = current_database() AND backend_type = 'client backend' \
     AND pid <> pg_backend_pid() AND xact_start IS NOT NULL \
     AND xact_start < clock_timestamp() - make_interval(secs => $1::float8) \
     ORDER BY xact_start LIMIT 1";

impl PostgresTaskStore {
    /// The warnings of [`TaskStore::warnings`](tasks_core::TaskStore::warnings).
    pub(crate) fn find_warnings(&self) -> Result<Vec<StoreWarning>, StoreError> {
        let Some(threshold) = self.inner.options.long_transaction_warning else {
            return Ok(Vec::new());
        };
        let seconds = threshold.as_secs_f64();
        let rows =
            self.run(Durability::Full, |conn| Ok(conn.query(OLDEST_TRANSACTION, &[&seconds])?))?;
        Ok(rows
            .first()
            .map(|row| {
                let (pid, application, state): (i32, String, String) =
                    (row.get(0), row.get(1), row.get(2));
                let (age, query, count): (f64, String, i64) = (row.get(3), row.get(4), row.get(5));
                let others = match count {
                    ..=1 => String::new(),
                    2 => " (and 1 more transaction over the limit)".to_owned(),
                    n => format!(" (and {} more transactions over the limit)", n - 1),
                };
                StoreWarning::new(
                    LONG_TRANSACTION_CODE,
                    format!(
                        "a transaction has been open for {age:.0} s on PostgreSQL backend {pid} \
                         (application {application:?}, {state}){others}: while it lasts, dead \
                         task rows cannot be vacuumed and claims slow down; end it (\
                         pg_terminate_backend({pid})) if it is stuck. Its last statement: {query}"
                    ),
                )
            })
            .into_iter()
            .collect())
    }
}
