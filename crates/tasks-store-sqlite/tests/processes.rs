//! Several OS processes on one database file: two processes claiming from one queue never
//! claim a task twice and lose none; a process killed with SIGKILL in the middle of a stream
//! of writes leaves a file that opens, passes `PRAGMA integrity_check`, and holds every write
//! it acknowledged.
//!
//! The child processes are this test binary itself, started with `std::env::current_exe()`
//! and an environment variable naming the role to play; they report on stdout, one line per
//! acknowledged write.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use tasks_core::{
    ClaimRequest, EnqueueOptions, NewStep, NewTask, StepQuery, TaskFilter, TaskId, TaskListQuery,
    TaskStatus, TaskStore, Timestamp,
};
use tasks_store_sqlite::{SqliteOptions, SqliteTaskStore};

const ROLE: &str = "TASKS_SQLITE_TEST_ROLE";
const DB: &str = "TASKS_SQLITE_TEST_DB";
const RUNNER: &str = "TASKS_SQLITE_TEST_RUNNER";
const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_000);
const LEASE: Duration = Duration::from_secs(3600);
const TASKS: usize = 10_000;

/// Starts this test binary as a child running only `test`, in `role`.
fn spawn(test: &str, role: &str, db: &Path, runner: &str) -> Child {
    Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(DB, db)
        .env(RUNNER, runner)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the child starts")
}

/// The child's environment: the role, database and runner it was given.
fn child_env() -> Option<(String, String, String)> {
    let role = std::env::var(ROLE).ok()?;
    let db = std::env::var(DB).expect("the parent names the database");
    let runner = std::env::var(RUNNER).expect("the parent names the runner");
    Some((role, db, runner))
}

/// Writes one report line in a single write, so a kill never leaves half a line that looks
/// whole. Returns false once the parent stopped listening.
fn report(line: &str) -> bool {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(format!("{line}\n").as_bytes()).and_then(|()| stdout.flush()).is_ok()
}

/// The report in a line of the child's stdout. The test harness prints `test <name> ... `
/// without a newline before the test runs, so the first report may share its line.
fn ack(line: &str) -> Option<&str> {
    line.find("ACK ").map(|start| line[start + 4..].trim_end())
}

/// The reports in the complete lines a child wrote, as (word, rest) pairs; with `stop_after`,
/// the child is killed with SIGKILL once that many were read.
fn read_reports(child: &mut Child, stop_after: Option<usize>) -> Vec<(String, String)> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut reader = BufReader::new(stdout);
    let mut reports = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        let read = reader.read_line(&mut line).expect("read the child's stdout");
        // A line without its newline was cut by the kill: it was never acknowledged.
        if read == 0 || !line.ends_with('\n') {
            break;
        }
        if let Some(report) = ack(&line) {
            let (word, rest) = report.split_once(' ').unwrap_or((report, ""));
            reports.push((word.to_owned(), rest.to_owned()));
        }
        if stop_after.is_some_and(|count| reports.len() == count) {
            // Kill the child mid-stream, then keep what it had already written to the pipe.
            child.kill().expect("SIGKILL the child");
        }
    }
    reports
}

fn claimer(db: &str, runner: &str) {
    let store = SqliteTaskStore::open(SqliteOptions::new(db)).expect("the child opens the file");
    // Start together: a child that starts late would find the queue already drained.
    assert!(report("ACK READY"));
    wait_for_parent();
    let mut round = 0u32;
    loop {
        // Vary the batch size so the two processes interleave in every possible way.
        let request = ClaimRequest::new(runner, 1 + round % 16, LEASE);
        round += 1;
        let claimed = store.claim(&request, NOW).expect("claim");
        if claimed.is_empty() {
            break;
        }
        for record in claimed {
            let lease = record.lease().expect("a claimed task has a lease");
            store.complete(&lease, json!({"by": runner}), NOW).expect("complete");
            assert!(report(&format!("ACK CLAIMED {}", record.id)));
        }
        if round == 1 {
            // Hold after the first claim until the other process has made its own: on a
            // loaded machine one process could otherwise drain the queue before the other's
            // first claim got the write lock, and the two would never claim side by side.
            assert!(report("ACK FIRST"));
            wait_for_parent();
        }
    }
}

/// Waits for the parent's next `go` line on stdin.
fn wait_for_parent() {
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).expect("the parent says go");
}

/// Waits until each of `count` children has reported `word` on `reports`.
fn wait_for_all(reports: &std::sync::mpsc::Receiver<String>, word: &str, count: usize) {
    for _ in 0..count {
        let got = reports.recv_timeout(Duration::from_secs(60)).expect("a child reports");
        assert_eq!(got, word, "children report READY, then FIRST");
    }
}

#[test]
fn two_processes_claim_each_task_exactly_once() {
    if let Some((role, db, runner)) = child_env() {
        assert_eq!(role, "claimer");
        claimer(&db, &runner);
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    let store = SqliteTaskStore::open(SqliteOptions::new(&path)).expect("open");
    let mut enqueued = HashSet::new();
    for batch in 0..TASKS / 1000 {
        let tasks =
            (0..1000).map(|n| NewTask::new("work", json!({"n": batch * 1000 + n}))).collect();
        for outcome in store.enqueue_batch(tasks, NOW).expect("enqueue") {
            enqueued.insert(outcome.task.id.to_string());
        }
    }
    let test = "two_processes_claim_each_task_exactly_once";
    let mut children =
        [spawn(test, "claimer", &path, "proc-a"), spawn(test, "claimer", &path, "proc-b")];
    // Read both pipes at once so neither child blocks on a full pipe.
    let (steps_tx, steps_rx) = std::sync::mpsc::channel();
    let readers: Vec<_> = children
        .iter_mut()
        .map(|child| {
            let stdout = child.stdout.take().expect("stdout is piped");
            let steps_tx = steps_tx.clone();
            std::thread::spawn(move || {
                let mut claimed = Vec::new();
                for line in BufReader::new(stdout).lines() {
                    let line = line.expect("read the child's stdout");
                    match ack(&line) {
                        Some(step @ ("READY" | "FIRST")) => {
                            steps_tx.send(step.to_owned()).expect("the parent waits");
                        }
                        Some(report) => {
                            claimed.extend(report.strip_prefix("CLAIMED ").map(str::to_owned));
                        }
                        None => {}
                    }
                }
                claimed
            })
        })
        .collect();
    let mut stdins: Vec<_> =
        children.iter_mut().map(|child| child.stdin.take().expect("stdin is piped")).collect();
    let go = |stdins: &mut Vec<std::process::ChildStdin>| {
        for stdin in stdins {
            stdin.write_all(b"go\n").expect("tell the child to go");
        }
    };
    // Both children have opened the file before either claims, and both have made a claim
    // before either goes on: from then on they claim side by side.
    wait_for_all(&steps_rx, "READY", children.len());
    go(&mut stdins);
    wait_for_all(&steps_rx, "FIRST", children.len());
    go(&mut stdins);
    drop(stdins);
    let claims: Vec<Vec<String>> =
        readers.into_iter().map(|reader| reader.join().expect("the reader thread")).collect();
    for child in &mut children {
        assert!(child.wait().expect("the child ends").success(), "a child failed");
    }
    let mut seen = HashSet::new();
    for (runner, ids) in ["proc-a", "proc-b"].iter().zip(&claims) {
        assert!(!ids.is_empty(), "{runner} claimed nothing");
        for id in ids {
            assert!(seen.insert(id.clone()), "task {id} was claimed twice");
            let record = store.get(&TaskId::new(id.as_str()).expect("an id")).expect("get");
            let record = record.expect("a claimed task exists");
            assert_eq!(
                record.lease_owner.as_deref(),
                Some(*runner),
                "{id} finished by its claimer"
            );
            assert_eq!((record.status, record.attempt), (TaskStatus::Succeeded, 1));
        }
    }
    let lost = enqueued.difference(&seen).count();
    assert_eq!(lost, 0, "{lost} tasks were never claimed");
    assert_eq!(seen.len(), enqueued.len(), "claims name only enqueued tasks");
    let open = TaskFilter { statuses: vec![TaskStatus::Queued], ..TaskFilter::all() };
    assert_eq!(store.aggregate(&open).expect("aggregate").total, 0);
    assert_eq!(
        store.aggregate(&TaskFilter::all()).expect("aggregate").by_status.succeeded,
        TASKS as u64
    );
}

fn writer(db: &str) {
    let store = SqliteTaskStore::open(SqliteOptions::new(db)).expect("the child opens the file");
    for n in 0..1_000_000u32 {
        let id = format!("t{n}");
        // Inputs of varied size, some spanning several pages, so the kill lands mid-frame.
        let input = json!({"n": n, "pad": "x".repeat((n as usize % 7) * 3_000)});
        let options = EnqueueOptions::new().id(TaskId::new(id.as_str()).expect("an id"));
        store.enqueue(NewTask::new("work", input).with_options(options), NOW).expect("enqueue");
        if !report(&format!("ACK ENQUEUED {id}")) {
            return;
        }
        let claimed = store.claim(&ClaimRequest::new("writer", 1, LEASE), NOW).expect("claim");
        let lease = claimed[0].lease().expect("a lease");
        let appended = store.append_steps(&lease, &[NewStep::info("half way")], NOW).expect("step");
        if !report(&format!("ACK STEP {id} {}", appended.steps[0].seq)) {
            return;
        }
        store.complete(&lease, json!({"n": n}), NOW).expect("complete");
        if !report(&format!("ACK COMPLETED {id}")) {
            return;
        }
    }
}

#[test]
fn sigkill_mid_stream_keeps_every_acknowledged_write() {
    if let Some((role, db, _)) = child_env() {
        assert_eq!(role, "writer");
        writer(&db);
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    drop(SqliteTaskStore::open(SqliteOptions::new(&path)).expect("create the file"));
    let mut child =
        spawn("sigkill_mid_stream_keeps_every_acknowledged_write", "writer", &path, "w");
    let reports = read_reports(&mut child, Some(3_000));
    let status = child.wait().expect("the child ends");
    assert!(!status.success(), "the child was killed, not finished");
    assert!(reports.len() >= 3_000, "the child acknowledged {} writes", reports.len());

    let conn = rusqlite::Connection::open(&path).expect("the file opens");
    let check: String =
        conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).expect("integrity check");
    assert_eq!(check, "ok");
    drop(conn);

    let store = SqliteTaskStore::open(SqliteOptions::new(&path)).expect("the store reopens");
    let mut expected: BTreeMap<String, (bool, Option<u64>, bool)> = BTreeMap::new();
    for (word, rest) in &reports {
        let (id, seq) = rest.split_once(' ').unwrap_or((rest.as_str(), ""));
        let entry = expected.entry(id.to_owned()).or_default();
        match word.as_str() {
            "ENQUEUED" => entry.0 = true,
            "STEP" => entry.1 = Some(seq.parse().expect("a seq")),
            "COMPLETED" => entry.2 = true,
            other => panic!("unknown report {other}"),
        }
    }
    for (id, (enqueued, step, completed)) in &expected {
        assert!(*enqueued, "{id} was reported before its enqueue");
        let task_id = TaskId::new(id.as_str()).expect("an id");
        let record = store.get(&task_id).expect("get").unwrap_or_else(|| panic!("{id} was lost"));
        if let Some(seq) = step {
            let steps = store.list_steps(&task_id, &StepQuery::default()).expect("steps");
            assert!(steps.iter().any(|step| step.seq == *seq), "the step of {id} was lost");
        }
        if *completed {
            assert_eq!(record.status, TaskStatus::Succeeded, "the completion of {id} was lost");
        }
    }
    // The reopened store goes on working.
    let all = store.list(&TaskListQuery::all().limit(10_000)).expect("list");
    assert!(all.len() >= expected.len());
    store.enqueue(NewTask::new("work", json!(null)), NOW).expect("enqueue after the crash");
}
