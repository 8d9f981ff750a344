//! `tasks serve` in a real browser: the dashboard's own browser check (headless Chromium over
//! WebDriver, see `crates/tasks-dashboard/tests/browser/`), run against the `tasks` binary
//! serving a SQLite file with running tasks instead of an in-process server. The screenshot is
//! saved as `dashboard-serve-screenshot.png` in the target dir.

#[path = "../../tasks-dashboard/tests/browser/harness.rs"]
mod harness;
#[path = "../../tasks-dashboard/tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use harness::Started;

/// Starts `tasks serve` on a free loopback port over the SQLite file `db`, requiring `token`,
/// and reads the address it prints.
async fn start_binary(db: PathBuf, token: &str) -> Started {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tasks"))
        .arg("--db")
        .arg(format!("sqlite:{}", db.display()))
        .args(["serve", "--bind", "127.0.0.1:0", "--poll", "20ms", "--token", token])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("`tasks serve` starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("`tasks serve` prints its address within a minute")
        .expect("read its stdout")
        .expect("`tasks serve` printed a line");
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let base_url = url.split("/?").next().unwrap_or(url).trim_end_matches('/').to_owned();
    Started { base_url, _running: Box::new((child, lines)) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_serve_follows_tasks_live_in_chromium() {
    harness::run(start_binary, "dashboard-serve-screenshot.png").await;
}
