//! The browser check shared by the in-process test (`main.rs`) and the `tasks serve` test of
//! the CLI (which includes this file by path): headless Debian Chromium driven over WebDriver
//! (`/usr/bin/chromedriver`, with fantoccini) against a dashboard serving a SQLite file with
//! running tasks. See `main.rs` for what it checks.

use std::any::Any;
use std::net::TcpListener as StdListener;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use futures_util::FutureExt;
use serde_json::{Value, json};
use tasks_core::{EnqueueOptions, Lease, NewStep, TaskStore};
use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};

use crate::support::{claim_and_start, enqueue, failed_task, progress, step};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub(crate) const TOKEN: &str = "browser-test-token";
/// A step message that would run script if it were ever parsed as HTML.
const HOSTILE: &str = "<script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\">";

/// A dashboard under test: where it answers, and whatever keeps it running.
pub(crate) struct Started {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub(crate) base_url: String,
    /// Whatever keeps the dashboard running (a server task, a child process).
    pub(crate) _running: Box<dyn Any + Send>,
}

/// Whether Chromium and chromedriver are installed; without them the test is skipped with a
/// printed reason, which fails under `CI=true`.
fn browser_available() -> bool {
    let missing: Vec<&str> =
        [CHROMIUM, CHROMEDRIVER].into_iter().filter(|path| !Path::new(path).exists()).collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "{} not installed (apt-get install chromium chromium-driver): the browser test did not run",
        missing.join(" and ")
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}; CI=true needs it");
    eprintln!("SKIPPED: {message}");
    false
}

/// A chromedriver on a free loopback port, killed when dropped.
struct Driver {
    url: String,
    _child: tokio::process::Child,
}

async fn start_driver() -> Driver {
    let port = StdListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let child = tokio::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    let status = format!("{url}/status");
    crate::support::eventually(60, "chromedriver to answer", || {
        let status = status.clone();
        async move { reqwest::get(status).await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;
    Driver { url, _child: child }
}

async fn start_browser(driver: &Driver, profile: &Path) -> Client {
    let args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--window-size=1440,1000".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut capabilities = serde_json::Map::new();
    capabilities
        .insert("goog:chromeOptions".to_owned(), json!({ "binary": CHROMIUM, "args": args }));
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Evaluates `expression` in the page.
async fn eval(browser: &Client, expression: &str) -> Value {
    browser.execute(&format!("return ({expression});"), vec![]).await.expect("the script runs")
}

/// Waits (30 s at most) until `expression` evaluates to `expected`.
async fn wait_for(browser: &Client, expression: &str, expected: Value, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let value = eval(browser, expression).await;
        if value == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {expression} is {value}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn row(id: &str) -> String {
    format!("document.querySelector('tr[data-task-id=\"{id}\"]')")
}

/// Clicks the element `selector` finds. In one script, so a row or badge the page redraws
/// between a lookup and a click cannot go stale in between.
async fn click(browser: &Client, selector: &str) {
    let script = "const target = document.querySelector(arguments[0]); \
                  if (!target) return false; target.click(); return true;";
    let clicked = browser.execute(script, vec![json!(selector)]).await.expect("the script runs");
    assert_eq!(clicked, json!(true), "nothing matches {selector}");
}

async fn open_detail(browser: &Client, id: &str) {
    click(browser, &format!("tr[data-task-id=\"{id}\"]")).await;
    wait_for(browser, "document.getElementById('detail-id').textContent", json!(id), "the panel")
        .await;
    wait_for(browser, "document.getElementById('detail').hidden", json!(false), "the panel shown")
        .await;
}

fn screenshot_path(name: &str) -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target dir>/tmp`: the screenshot goes next to it.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join(name)
}

/// The tasks the test drives, by role.
struct Seeded {
    progressing: Lease,
    to_cancel: Lease,
    hostile: Lease,
    failed: String,
}

/// Steps of the import task before its hostile one.
const IMPORT_STEPS: usize = 800;
/// Steps the panel shows at first (the page's `DETAIL_STEPS`).
const PANEL_STEPS: usize = 500;

/// Queued mail tasks, enqueued first: more than a page, so the pager has a second one.
const MAIL_TASKS: usize = 55;
/// Every task seeded, plus the one the test enqueues while the page is open.
const ALL_TASKS: usize = MAIL_TASKS + 5;

fn seed(store: &dyn TaskStore) -> Seeded {
    for n in 0..MAIL_TASKS {
        enqueue(
            store,
            "mail.send",
            json!({ "to": format!("user{n}@example.test") }),
            EnqueueOptions::new(),
        );
    }
    let failed = failed_task(store, "invoice.render").id.to_string();
    enqueue(
        store,
        "report.build",
        json!({ "report": 42 }),
        EnqueueOptions::new().channel("scope:reports"),
    );
    let progressing = claim_and_start(store, "report.build");
    progress(store, &progressing, 10.0, "loading inputs");
    step(store, &progressing, "Preparing report 42");
    enqueue(store, "video.transcode", json!({ "video": 7 }), EnqueueOptions::new());
    let to_cancel = claim_and_start(store, "video.transcode");
    progress(store, &to_cancel, 35.0, "transcoding");
    enqueue(store, "import.users", json!({ "file": "users.csv" }), EnqueueOptions::new());
    let hostile = claim_and_start(store, "import.users");
    // More steps than the panel's first window (500), so it offers the earlier ones.
    for batch in 0..IMPORT_STEPS / 100 {
        let steps: Vec<NewStep> =
            (1..=100).map(|n| NewStep::info(format!("imported row {}", batch * 100 + n))).collect();
        store.append_steps(&hostile, &steps, crate::support::now()).expect("steps");
    }
    step(store, &hostile, HOSTILE);
    Seeded { progressing, to_cancel, hostile, failed }
}

async fn drive(
    browser: &Client,
    store: &dyn TaskStore,
    seeded: &Seeded,
    base: &str,
    screenshot: &str,
) {
    // The first visit brings the token; the page lands on a clean address with the cookie.
    browser.goto(&format!("{base}/?token={TOKEN}")).await.expect("the page loads");
    let address = browser.current_url().await.expect("an address");
    assert!(!address.as_str().contains(TOKEN), "the token left the address: {address}");
    wait_for(
        browser,
        "document.getElementById('live-status').dataset.state",
        json!("live"),
        "the live stream",
    )
    .await;
    // Any script error from here on is a failure (collected, checked at the end).
    eval(
        browser,
        "(window.__errors = [], \
          addEventListener('error', e => __errors.push(String(e.message))), \
          addEventListener('unhandledrejection', e => __errors.push(String(e.reason))), true)",
    )
    .await;

    // A progress bar advances without a reload.
    let progressing = seeded.progressing.task_id.to_string();
    let bar = format!("{}?.querySelector('progress')?.value", row(&progressing));
    wait_for(browser, &bar, json!(10), "the first progress").await;
    eval(browser, "window.__sameDocument = 'yes'").await;
    progress(store, &seeded.progressing, 60.0, "rendering charts");
    wait_for(browser, &bar, json!(60), "the progress bar to advance").await;
    wait_for(
        browser,
        &format!("{}.querySelector('td.label').textContent", row(&progressing)),
        json!("rendering charts"),
        "the label",
    )
    .await;
    assert_eq!(eval(browser, "window.__sameDocument").await, json!("yes"), "no reload happened");
    // A task enqueued now appears on the first page.
    let fresh = enqueue(store, "webhook.deliver", json!({ "hook": 1 }), EnqueueOptions::new());
    wait_for(
        browser,
        &format!("{} !== null", row(fresh.id.as_str())),
        json!(true),
        "the new task's row",
    )
    .await;
    // The counts arrived with the stream.
    let running =
        "document.querySelector('#state-badges [data-state=\"running\"] .badge-count').textContent";
    wait_for(browser, running, json!("3"), "the running count").await;

    // A detail panel, once open, shows a step that is appended after it opened.
    open_detail(browser, &progressing).await;
    let steps =
        "[...document.querySelectorAll('#detail-steps .step-message')].map(e => e.textContent)";
    wait_for(browser, steps, json!(["Preparing report 42"]), "the first step").await;
    step(store, &seeded.progressing, "Charts rendered: 12");
    wait_for(browser, steps, json!(["Preparing report 42", "Charts rendered: 12"]), "the new step")
        .await;
    assert_eq!(eval(browser, "window.__sameDocument").await, json!("yes"), "no reload happened");

    // A hostile step message is text, and nothing in it ran.
    open_detail(browser, seeded.hostile.task_id.as_str()).await;
    let count = "document.querySelectorAll('#detail-steps .step').length";
    wait_for(browser, count, json!(PANEL_STEPS), "the panel's window of steps").await;
    let last = "document.querySelector('#detail-steps .step:last-child .step-message').textContent";
    wait_for(browser, last, json!(HOSTILE), "the hostile step, as text").await;
    assert_eq!(
        eval(
            browser,
            "document.querySelectorAll('#detail-steps img, #detail-steps script').length"
        )
        .await,
        json!(0)
    );
    tokio::time::sleep(Duration::from_millis(300)).await; // an <img onerror> would have fired by now
    assert_eq!(
        eval(browser, "typeof window.__xss").await,
        json!("undefined"),
        "the message's script never ran"
    );

    // The earlier steps come on demand, 200 at a time, until the first.
    let first = "document.querySelector('#detail-steps .step').dataset.seq";
    let hidden = "document.getElementById('detail-earlier').hidden";
    let total = IMPORT_STEPS + 1;
    wait_for(browser, first, json!((total - PANEL_STEPS + 1).to_string()), "the window's start")
        .await;
    click(browser, "#detail-earlier").await;
    wait_for(browser, first, json!((total - PANEL_STEPS - 199).to_string()), "200 earlier").await;
    click(browser, "#detail-earlier").await;
    wait_for(browser, first, json!("1"), "the very first step").await;
    wait_for(browser, count, json!(total), "every step").await;
    assert_eq!(eval(browser, hidden).await, json!(true), "nothing earlier to load");

    // Cancel a running task: it is marked at once, and cancelled when its worker stops.
    let to_cancel = seeded.to_cancel.task_id.to_string();
    open_detail(browser, &to_cancel).await;
    wait_for(
        browser,
        "document.getElementById('detail-cancel').disabled",
        json!(false),
        "the cancel button",
    )
    .await;
    click(browser, "#detail-cancel").await;
    wait_for(
        browser,
        "document.getElementById('detail-cancel').disabled",
        json!(true),
        "the cancel request",
    )
    .await;
    wait_for(
        browser,
        &format!("{}.querySelector('td.state').textContent", row(&to_cancel)),
        json!("running cancelling"),
        "the cancelling mark",
    )
    .await;
    let record = store.get(&seeded.to_cancel.task_id).expect("a read").expect("the task");
    assert!(record.cancel_requested_at.is_some(), "the store has the request");
    store
        .acknowledge_cancel(&seeded.to_cancel, Some("stopped on request"), crate::support::now())
        .expect("the worker stops");
    wait_for(
        browser,
        &format!("{}.dataset.state", row(&to_cancel)),
        json!("cancelled"),
        "the row's state",
    )
    .await;
    wait_for(
        browser,
        "document.getElementById('detail-state').textContent",
        json!("cancelled"),
        "the panel's state",
    )
    .await;

    // Retry a failed task: it is queued again.
    open_detail(browser, &seeded.failed).await;
    wait_for(
        browser,
        "document.getElementById('detail-retry').disabled",
        json!(false),
        "the retry button",
    )
    .await;
    click(browser, "#detail-retry").await;
    wait_for(
        browser,
        &format!("{}.dataset.state", row(&seeded.failed)),
        json!("queued"),
        "the retried task queued",
    )
    .await;
    // The counts follow: one less failed, one more queued.
    let count = |state: &str| {
        format!(
            "document.querySelector('#state-badges [data-state=\"{state}\"] .badge-count').textContent"
        )
    };
    wait_for(browser, &count("failed"), json!("0"), "the failed count").await;
    let queued = (MAIL_TASKS + 2).to_string(); // the mail, the new task, the retried one
    wait_for(browser, &count("queued"), json!(queued), "the queued count").await;
    wait_for(browser, &count("cancelled"), json!("1"), "the cancelled count").await;

    // A badge filters the table by its state; a second click clears the filter.
    let rows = "document.querySelectorAll('#task-rows tr').length";
    let badge = "#state-badges [data-state=\"running\"]";
    click(browser, badge).await;
    wait_for(browser, rows, json!(2), "the running tasks only").await;
    let states =
        "[...document.querySelectorAll('#task-rows tr')].every(r => r.dataset.state === 'running')";
    assert_eq!(eval(browser, states).await, json!(true));
    click(browser, badge).await;
    wait_for(browser, rows, json!(50), "a full first page again").await;

    // The pager: the second page holds the rest, the first page comes back.
    let info = "document.getElementById('page-info').textContent";
    wait_for(browser, info, json!(format!("1–50 of {ALL_TASKS}")), "the first page's range").await;
    click(browser, "#page-next").await;
    wait_for(browser, info, json!(format!("51–{ALL_TASKS} of {ALL_TASKS}")), "the second page")
        .await;
    wait_for(browser, rows, json!(ALL_TASKS - 50), "the second page's rows").await;
    click(browser, "#page-first").await;
    wait_for(browser, rows, json!(50), "the first page again").await;

    // The filter form: a kind.
    let typed = "(document.querySelector('#filters [name=kind]').value = 'video.transcode', true)";
    eval(browser, typed).await;
    click(browser, "#filters button[type=submit]").await;
    wait_for(browser, rows, json!(1), "the one video task").await;
    click(browser, "#clear-filters").await;
    wait_for(browser, rows, json!(50), "every task again").await;

    // A picture of the page, with the progressing task's panel open.
    open_detail(browser, &progressing).await;
    wait_for(
        browser,
        "document.querySelectorAll('#detail-steps .step').length",
        json!(2),
        "the panel's steps",
    )
    .await;
    assert_eq!(eval(browser, "window.__errors").await, json!([]), "no script error");
    assert_eq!(eval(browser, "window.__sameDocument").await, json!("yes"), "never reloaded");
    let png = browser.screenshot().await.expect("a screenshot");
    let path = screenshot_path(screenshot);
    std::fs::write(&path, png).expect("the screenshot is saved");
    println!("SCREENSHOT {}", path.display());
}

/// Runs the whole browser check against a dashboard that `start` serves over the SQLite file
/// it is given, requiring the token it is given; saves the screenshot as `screenshot` in the
/// target dir. Call it from a multi-threaded tokio test.
pub(crate) async fn run<F, Fut>(start: F, screenshot: &str)
where
    F: FnOnce(PathBuf, &'static str) -> Fut,
    Fut: std::future::Future<Output = Started>,
{
    if !browser_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("tasks.sqlite");
    let store = SqliteTaskStore::open(SqliteOptions::new(&db)).expect("the test's store");
    let seeded = seed(&store);
    let started = start(db.clone(), TOKEN).await;

    let driver = start_driver().await;
    let profile = tempfile::tempdir().expect("a browser profile dir");
    let browser = start_browser(&driver, profile.path()).await;
    let outcome = AssertUnwindSafe(drive(&browser, &store, &seeded, &started.base_url, screenshot))
        .catch_unwind()
        .await;
    // Close the session (and Chromium) whatever happened, then report.
    let _ = browser.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
