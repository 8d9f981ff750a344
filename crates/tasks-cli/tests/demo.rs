//! `tasks demo`: with no arguments it creates `./.data/tasks.sqlite`, runs its sample kinds
//! to the end on its own, and leaves the expected tasks in the store.

mod support;

use serde_json::Value;
use support::Scratch;

fn by_disposition<'a>(enqueued: &'a [Value], disposition: &str) -> Vec<&'a Value> {
    enqueued.iter().filter(|outcome| outcome["disposition"] == disposition).collect()
}

#[test]
fn the_demo_finishes_and_its_store_holds_the_expected_tasks() {
    let scratch = Scratch::new();
    let report = scratch.json(&["demo", "--json"]);
    assert!(scratch.path().join(".data/tasks.sqlite").is_file(), "the demo's store is in .data/");
    assert_eq!(report["store"], "sqlite:.data/tasks.sqlite");

    // What the batch showed: a dedupe (the open task reused) and a supersede.
    let enqueued = report["enqueued"].as_array().expect("the enqueue outcomes");
    assert_eq!(enqueued.len(), 11);
    assert_eq!(by_disposition(enqueued, "created").len(), 9);
    let reused = by_disposition(enqueued, "reused");
    assert_eq!(reused.len(), 1);
    let superseding = by_disposition(enqueued, "superseded");
    assert_eq!(superseding.len(), 1);
    let superseded_id = superseding[0]["supersededTaskIds"][0].as_str().expect("an id");

    // The store, read by another process: ten tasks of the run, all finished.
    let channel = report["channel"].as_str().expect("the run's channel");
    let tasks = scratch.json(&["ls", "--channel", channel, "--json"]);
    let tasks = tasks.as_array().expect("a list");
    assert_eq!(tasks.len(), 10);
    let state_of =
        |id: &str| tasks.iter().find(|task| task["taskId"] == id).map(|task| task["state"].clone());
    assert_eq!(state_of(superseded_id), Some(Value::from("cancelled")));
    for task in tasks.iter().filter(|task| task["taskId"] != superseded_id) {
        assert_eq!(task["state"], "succeeded", "{task}");
        assert_eq!(task["progress"]["percent"], 100.0, "{task}");
    }
    let reused_id = reused[0]["task"]["id"].as_str().expect("an id");
    assert_eq!(state_of(reused_id), Some(Value::from("succeeded")));
    let kinds = |kind: &str| tasks.iter().filter(|task| task["kind"] == kind).count();
    assert_eq!((kinds("demo.report"), kinds("demo.thumbnail")), (4, 3));
    assert_eq!((kinds("demo.flaky"), kinds("demo.index")), (1, 2));
    let flaky = tasks.iter().find(|task| task["kind"] == "demo.flaky").expect("the flaky task");
    assert_eq!(flaky["attempt"], 2, "it failed once and succeeded on the retry: {flaky}");

    // The child process's plain output line became a log step.
    let thumbnail = tasks.iter().find(|task| task["kind"] == "demo.thumbnail").expect("one");
    let id = thumbnail["taskId"].as_str().expect("an id");
    let shown = scratch.json(&["show", id, "--json"]);
    let steps = shown["steps"].as_array().expect("steps");
    assert!(
        steps.iter().any(|step| step["kind"] == "log"
            && step["message"].as_str().is_some_and(|m| m.starts_with("making a thumbnail"))),
        "{shown}"
    );
}

#[test]
fn the_demo_shows_people_its_progress_and_a_summary() {
    let scratch = Scratch::new();
    let run = scratch.run(&["demo"]);
    run.assert_success(&["demo"]);
    let out = &run.stdout;
    for part in
        ["created", "reused", "superseded", "▸ running", "% page", "✓ succeeded", "↻ retrying"]
    {
        assert!(out.contains(part), "no {part:?} in:\n{out}");
    }
    assert!(out.contains("10 tasks, 9 succeeded, 1 cancelled, 1 retried after a failure"), "{out}");
    assert!(out.contains("The tasks are in sqlite:.data/tasks.sqlite"), "{out}");
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

/// A GET on the dashboard at `address` (`127.0.0.1:PORT`): the status and the body.
fn http_get(address: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("the dashboard answers");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send the request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read the response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok());
    (status.expect("a status line"), body.to_owned())
}

#[test]
fn the_demo_then_serves_its_store_on_the_dashboard_until_interrupted() {
    let scratch = Scratch::new();
    let mut demo = scratch.spawn(&["demo", "--serve", "--bind", "127.0.0.1:0", "--json"]);
    let announced =
        demo.json_where("the dashboard's address", |line| line["dashboard"].is_string());
    let address = announced["address"].as_str().expect("the address it listens on");

    let (status, body) = http_get(address, "/api/aggregate");
    assert_eq!(status, 200, "{body}");
    let aggregate: Value = serde_json::from_str(&body).expect("JSON counts");
    assert_eq!(aggregate["total"], 10, "the demo's ten tasks: {aggregate}");
    assert_eq!(aggregate["byState"]["succeeded"], 9, "{aggregate}");
    let (status, page) = http_get(address, "/");
    assert_eq!(status, 200);
    assert!(page.contains("<html"), "the page: {page}");

    demo.signal(nix::sys::signal::Signal::SIGINT);
    demo.wait().assert_success(&["demo", "--serve"]);
}

#[test]
fn the_demo_draws_progress_bars_on_a_terminal() {
    // `script` (util-linux) gives the demo a pseudo-terminal, where it draws bars instead of
    // printing a line per change.
    let scratch = Scratch::new();
    let demo = format!("{} demo", env!("CARGO_BIN_EXE_tasks"));
    let output = std::process::Command::new("script")
        .args(["-qec", &demo, "/dev/null"])
        .current_dir(scratch.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("`script` (util-linux) runs");
    assert!(output.status.success(), "the demo on a terminal failed: {output:?}");
    let screen = String::from_utf8_lossy(&output.stdout);
    let full_bar = format!("[{}] 100%", "=".repeat(24));
    assert!(screen.contains(&full_bar), "no finished bar was drawn:\n{screen}");
    let partial = screen.match_indices("=>").count();
    assert!(partial > 0, "no bar was drawn part way:\n{screen}");
}
