//! The worker scenario every store runs: a worker, enqueues and watches in separate
//! processes, sharing only the store.

use nix::sys::signal::Signal;

use super::{Scratch, live_event};

/// A config whose kinds are shell scripts speaking the process executor's protocol.
pub const CONFIG: &str = r#"
[worker]
poll_interval = "100ms"
heartbeat = "200ms"
lease = "5s"
stop_timeout = "5s"

# Progress as JSON lines, a plain line (a log step), a result.
[kinds.count]
program = "sh"
args = ["-c", '''
cat > /dev/null
echo "counting for $TASKS_TASK_ID"
for n in 1 2 3 4; do
  echo "{\"type\":\"progress\",\"percent\":$((n * 25)),\"label\":\"count $n\"}"
  sleep 0.1
done
echo '{"type":"result","output":{"counted":4}}'
''']

# Fails with its stderr as the message, not retried.
[kinds.fail]
program = "sh"
args = ["-c", "echo boom >&2; exit 3"]
max_attempts = 1

# Runs until told to stop, and says so.
[kinds.slow]
program = "sh"
args = ["-c", '''
trap 'echo "{\"type\":\"error\",\"code\":\"cancelled\",\"message\":\"stopped on request\"}"; exit 0' TERM
echo '{"type":"progress","percent":1,"label":"waiting"}'
while true; do sleep 0.1; done
''']
kill_grace = "3s"
"#;

/// `args` followed by the store's arguments.
fn with(args: &[&str], db: &[String]) -> Vec<String> {
    args.iter().map(|arg| (*arg).to_owned()).chain(db.iter().cloned()).collect()
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Enqueues `kind` on channel `test` and returns the new task's id.
fn enqueue(scratch: &Scratch, db: &[String], kind: &str, input: &str) -> String {
    let args = with(&["enqueue", kind, "--input", input, "--channel", "test", "--json"], db);
    let outcome = scratch.json(&refs(&args));
    assert_eq!(outcome["disposition"], "created", "{outcome}");
    outcome["task"]["id"].as_str().expect("an id").to_owned()
}

/// Runs the whole scenario against the store `db` (global `--db...` arguments).
pub fn worker_enqueue_watch(scratch: &Scratch, db: &[String]) {
    scratch.write("tasks.toml", CONFIG);
    scratch.run(&refs(&with(&["migrate"], db))).assert_success(&["migrate"]);

    // A watcher in its own process, before any task exists: it sees everything live.
    let mut watch = scratch.spawn(&refs(&with(&["watch", "--channel", "test", "--json"], db)));
    watch.json_where("the bootstrap", |message| message["type"] == "bootstrap");
    let mut worker = scratch.spawn(&refs(&with(&["worker"], db)));
    worker.line_where("the start line", |line| line.contains("started on"));

    // A task with progress, a log line and a result.
    let id = enqueue(scratch, db, "count", r#"{"n":4}"#);
    let mut events = Vec::new();
    let done = watch.json_where("the task's success", |message| match live_event(message) {
        Some((name, task)) if task == id => name == "succeeded",
        _ => false,
    });
    events.push(done.clone());
    let snapshot = &done["event"]["snapshot"];
    assert_eq!(snapshot["progress"]["percent"], 100.0, "{done}");
    assert_eq!(snapshot["output"]["counted"], 4, "{done}");
    let shown = scratch.json(&refs(&with(&["show", &id, "--json"], db)));
    let steps = shown["steps"].as_array().expect("steps");
    assert!(
        steps.iter().any(|step| step["kind"] == "log"
            && step["message"].as_str().is_some_and(|m| m.starts_with("counting for "))),
        "{shown}"
    );
    // Following one task that already succeeded ends at once, with status 0.
    let followed = scratch.run(&refs(&with(&["watch", &id], db)));
    followed.assert_success(&["watch", &id]);
    assert!(followed.stdout.lines().last().is_some_and(|line| line.contains("succeeded")));

    // A failure: `watch ID` ends with status 5 and the task's error.
    let id = enqueue(scratch, db, "fail", "null");
    scratch.run(&refs(&with(&["watch", &id], db))).assert_failure(5, "failed: boom");

    // A cancel from yet another process reaches the running child.
    let id = enqueue(scratch, db, "slow", "{}");
    watch.json_where("the slow task running", |message| match live_event(message) {
        Some((_, task)) if task == id => message["event"]["snapshot"]["progress"]["percent"] == 1.0,
        _ => false,
    });
    let cancel = scratch.run(&refs(&with(&["cancel", &id, "--reason", "test over"], db)));
    cancel.assert_success(&["cancel"]);
    assert!(cancel.stdout.starts_with("cancel requested for"), "{}", cancel.stdout);
    scratch.run(&refs(&with(&["watch", &id], db))).assert_failure(5, "cancelled");
    let shown = scratch.json(&refs(&with(&["show", &id, "--json"], db)));
    assert_eq!(shown["state"], "cancelled", "{shown}");

    // SIGTERM stops the worker gracefully; SIGINT stops the watcher.
    worker.signal(Signal::SIGTERM);
    let stopped = worker.wait();
    assert_eq!(stopped.status, Some(0), "{}\n{}", stopped.stdout, stopped.stderr);
    assert!(stopped.stdout.contains("SIGTERM received"), "{}", stopped.stdout);
    assert!(stopped.stdout.trim_end().ends_with("worker stopped"), "{}", stopped.stdout);
    watch.signal(Signal::SIGINT);
    let watched = watch.wait();
    assert_eq!(watched.status, Some(0), "{}", watched.stderr);
}
