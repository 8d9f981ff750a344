//! The dashboard in a real browser: headless Debian Chromium driven over WebDriver
//! (`/usr/bin/chromedriver`, with fantoccini). The dashboard serves a SQLite store (a temp
//! file) with running tasks; the test drives those tasks through its own handle on the same
//! file (claim, start, progress, steps, with a lease), so it controls every change, and checks
//! what the page shows:
//!
//! - the first visit with `?token=` sets the cookie, and the page, its assets, the API and
//!   the live stream all work with it;
//! - a progress bar advances without a reload (a marker set on the page survives), and a
//!   task enqueued meanwhile appears on the first page;
//! - a detail panel, once open, shows a step appended after it opened;
//! - a `<script>` (and an `<img onerror>`) in a step message is shown as text and never runs;
//!   a long step log shows its last 500 steps and loads the earlier ones on demand;
//! - cancelling a running task from the panel marks it, and its state changes to cancelled
//!   when the worker stops; retrying a failed task queues it again; the counts follow;
//! - a state badge filters the table;
//! - a screenshot of the page is saved under the target dir (its path is printed).
//!
//! The dashboard is started by one function returning its base URL
//! ([`start_in_process`]), so the same test can run against the `tasks serve` binary.
//!
//! Without Chromium and chromedriver the test says so and passes, except under `CI=true`,
//! where that fails.

mod harness;
#[path = "../support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;

use tasks_core::TaskStore;
use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};

use harness::Started;

/// Starts the dashboard in this process over the SQLite file `db`, requiring `token`.
async fn start_in_process(db: &Path, token: &str) -> Started {
    let store: Arc<dyn TaskStore> =
        Arc::new(SqliteTaskStore::open(SqliteOptions::new(db)).expect("the dashboard's store"));
    let options = support::fast().token(token);
    let server = support::serve(store, options).await;
    Started { base_url: server.base.clone(), _running: Box::new(server) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_follows_tasks_live_in_chromium() {
    harness::run(
        |db, token| async move { start_in_process(&db, token).await },
        "dashboard-screenshot.png",
    )
    .await;
}
