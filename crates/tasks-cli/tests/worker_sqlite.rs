//! `tasks worker`, `tasks enqueue`, `tasks watch`, `tasks cancel` and `tasks show` in separate
//! processes sharing one SQLite file.

mod support;

use support::Scratch;
use support::scenario::worker_enqueue_watch;

#[test]
fn worker_enqueue_and_watch_share_a_sqlite_file() {
    let scratch = Scratch::new();
    let db = vec!["--db".to_owned(), "sqlite:queue.sqlite".to_owned()];
    worker_enqueue_watch(&scratch, &db);
}

/// A kind that runs until stopped; with `trap '' TERM` it ignores SIGTERM too.
fn config(stop_timeout: &str, ignore_term: bool) -> String {
    let trap = if ignore_term { "trap '' TERM" } else { "trap 'exit 0' TERM" };
    format!(
        r#"
[worker]
poll_interval = "100ms"
stop_timeout = "{stop_timeout}"
cancel_grace = "1s"

[kinds.slow]
program = "sh"
args = ["-c", "{trap}; echo '{{\"type\":\"progress\",\"percent\":5}}'; while true; do sleep 0.1; done"]
kill_grace = "1s"
"#
    )
}

/// Starts a worker and a `slow` task, and returns once the task runs.
fn running_slow_task(scratch: &Scratch) -> (support::Running, String) {
    scratch.run(&["migrate"]).assert_success(&["migrate"]);
    let mut worker = scratch.spawn(&["worker"]);
    worker.line_where("the start line", |line| line.contains("started on"));
    let enqueued = scratch.json(&["enqueue", "slow", "--json"]);
    let id = enqueued["task"]["id"].as_str().expect("an id").to_owned();
    worker.line_where("the task starting", |line| line.contains("started") && line.contains(&id));
    let deadline = std::time::Instant::now() + support::PATIENCE;
    loop {
        let shown = scratch.json(&["show", &id, "--json"]);
        if shown["progress"]["percent"] == 5.0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the task never reported: {shown}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (worker, id)
}

#[test]
fn a_stopping_worker_drains_then_releases_its_running_task() {
    let scratch = Scratch::new();
    scratch.write("tasks.toml", &config("1s", false));
    let (worker, id) = running_slow_task(&scratch);
    worker.signal(nix::sys::signal::Signal::SIGINT);
    let stopped = worker.wait();
    assert_eq!(stopped.status, Some(0), "{}\n{}", stopped.stdout, stopped.stderr);
    assert!(
        stopped.stdout.contains("SIGINT received: draining running tasks (up to 1.0 s)"),
        "{}",
        stopped.stdout
    );
    // Released, not failed: queued again with its attempt given back, for another worker.
    let shown = scratch.json(&["show", &id, "--json"]);
    assert_eq!(
        (shown["state"].as_str(), shown["attempt"].as_u64()),
        (Some("queued"), Some(0)),
        "{shown}"
    );
}

#[test]
fn a_second_signal_stops_the_worker_without_draining() {
    let scratch = Scratch::new();
    scratch.write("tasks.toml", &config("10m", true));
    let (mut worker, _id) = running_slow_task(&scratch);
    worker.signal(nix::sys::signal::Signal::SIGTERM);
    worker.line_where("the drain starting", |line| line.contains("SIGTERM received"));
    worker.signal(nix::sys::signal::Signal::SIGTERM);
    let stopped = worker.wait();
    stopped.assert_failure(130, "SIGTERM received again: stopped without draining");
}

#[test]
fn a_kind_runs_its_program_with_its_args_env_directory_timeout_and_attempts() {
    let scratch = Scratch::new();
    std::fs::create_dir(scratch.path().join("jobs")).expect("mkdir");
    // A program given by a path relative to the config file, run in `cwd`, with `args` and
    // `env`; a second kind that overruns its timeout.
    let script = scratch.write(
        "jobs/greet.sh",
        "#!/bin/sh\ncat > /dev/null\nprintf '{\"type\":\"result\",\"output\":{\"greeting\":\"%s %s\",\"dir\":\"%s\"}}\\n' \"$GREETING\" \"$1\" \"$(basename \"$PWD\")\"\n",
    );
    let mut permissions = std::fs::metadata(&script).expect("the script").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).expect("chmod");
    scratch.write(
        "tasks.toml",
        r#"
[worker]
poll_interval = "100ms"

[kinds.greet]
program = "jobs/greet.sh"
args = ["world"]
cwd = "jobs"
env = { GREETING = "hello" }

[kinds.overrun]
program = "sh"
args = ["-c", "sleep 30"]
timeout = "300ms"
kill_grace = "1s"
max_attempts = 1
"#,
    );
    scratch.run(&["migrate"]).assert_success(&["migrate"]);
    let _worker = {
        let mut worker = scratch.spawn(&["worker"]);
        worker.line_where("the start line", |line| line.contains("started on"));
        worker
    };
    let greet = scratch.json(&["enqueue", "greet", "--json"]);
    let id = greet["task"]["id"].as_str().expect("an id");
    scratch.run(&["watch", id]).assert_success(&["watch"]);
    let shown = scratch.json(&["show", id, "--json"]);
    assert_eq!(shown["output"], serde_json::json!({ "greeting": "hello world", "dir": "jobs" }));

    let overrun = scratch.json(&["enqueue", "overrun", "--json"]);
    let id = overrun["task"]["id"].as_str().expect("an id");
    assert_eq!(overrun["task"]["maxAttempts"], 1, "the kind's max_attempts");
    scratch.run(&["watch", id]).assert_failure(5, "failed");
    let shown = scratch.json(&["show", id, "--json"]);
    assert_eq!(shown["error"]["code"], "timeout", "{shown}");
}
