//! Inspection and control against a store with no worker: `enqueue` with its options, `ls`
//! with its filters, `show`, `cancel`, `compact`, `schema` and `migrate`, for people and with
//! `--json`.

mod support;

use serde_json::Value;
use support::Scratch;

const CONFIG: &str = "\
[worker]
default_max_attempts = 2

[kinds.mail]
program = \"cat\"
max_attempts = 7

[kinds.report]
program = \"cat\"
";

fn ready() -> Scratch {
    let scratch = Scratch::new();
    scratch.write("tasks.toml", CONFIG);
    scratch.run(&["migrate"]).assert_success(&["migrate"]);
    scratch
}

fn id_of(outcome: &Value) -> String {
    outcome["task"]["id"].as_str().expect("an id").to_owned()
}

#[test]
fn enqueue_applies_every_option() {
    let scratch = ready();
    let outcome = scratch.json(&[
        "enqueue",
        "mail",
        "--input",
        r#"{"to":"ada"}"#,
        "--dedupe",
        "mail:ada",
        "--concurrency-key",
        "smtp",
        "--delay",
        "1h",
        "--priority",
        "-3",
        "--channel",
        "scope:team",
        "--channel",
        "topic:mail",
        "--metadata",
        r#"{"by":"cli"}"#,
        "--json",
    ]);
    assert_eq!(outcome["disposition"], "created");
    let task = &outcome["task"];
    assert_eq!(task["input"]["to"], "ada");
    assert_eq!(
        (task["dedupeKey"].clone(), task["concurrencyKey"].clone()),
        ("mail:ada".into(), "smtp".into())
    );
    assert_eq!(task["priority"], -3);
    assert_eq!(task["channels"], serde_json::json!(["scope:team", "topic:mail"]));
    assert_eq!(task["metadata"]["by"], "cli");
    assert_eq!(task["maxAttempts"], 7, "the kind's max_attempts from the config file");
    assert!(task["scheduledAt"].as_str() > task["createdAt"].as_str(), "delayed: {task}");

    // The same dedupe key reuses the open task.
    let again = scratch.json(&["enqueue", "mail", "--dedupe", "mail:ada", "--json"]);
    assert_eq!(again["disposition"], "reused");
    assert_eq!(id_of(&again), id_of(&outcome));
    let run = scratch.run(&["enqueue", "mail", "--dedupe", "mail:ada"]);
    run.assert_success(&["enqueue"]);
    assert!(run.stdout.starts_with(&format!("reused {}", id_of(&outcome))), "{}", run.stdout);

    // A supersede cancels the open task with the same key.
    let first = scratch.json(&["enqueue", "report", "--supersede", "weekly", "--json"]);
    let second = scratch.json(&["enqueue", "report", "--supersede", "weekly", "--json"]);
    assert_eq!(second["disposition"], "superseded");
    assert_eq!(second["supersededTaskIds"], serde_json::json!([id_of(&first)]));
    assert_eq!(second["task"]["maxAttempts"], 2, "the worker's default_max_attempts");

    // An explicit id, time and attempts.
    let at = scratch.json(&[
        "enqueue",
        "report",
        "--id",
        "weekly-2030",
        "--at",
        "2030-01-01T09:00:00Z",
        "--max-attempts",
        "1",
        "--json",
    ]);
    assert_eq!(at["task"]["id"], "weekly-2030");
    assert_eq!(at["task"]["scheduledAt"], "2030-01-01T09:00:00.000Z");
    assert_eq!(at["task"]["maxAttempts"], 1);
    assert_eq!(at["task"]["input"], Value::Null, "no --input: null");
}

#[test]
fn input_comes_from_a_file_or_stdin() {
    let scratch = ready();
    scratch.write("input.json", r#"{"reportId": "rpt_42", "pages": [1, 2]}"#);
    let outcome = scratch.json(&["enqueue", "report", "--input", "@input.json", "--json"]);
    assert_eq!(outcome["task"]["input"]["pages"], serde_json::json!([1, 2]));
    let piped =
        scratch.run_with_stdin(&["enqueue", "report", "--input", "-", "--json"], "[true]\n");
    piped.assert_success(&["enqueue"]);
    let outcome: Value = serde_json::from_str(&piped.stdout).expect("JSON");
    assert_eq!(outcome["task"]["input"], serde_json::json!([true]));
    let empty = scratch.run_with_stdin(&["enqueue", "report", "--input", "-"], "");
    empty.assert_failure(2, "invalid JSON in stdin");
}

#[test]
fn ls_filters_by_state_kind_and_channel() {
    let scratch = ready();
    let mail = id_of(&scratch.json(&["enqueue", "mail", "--channel", "scope:a", "--json"]));
    let report = id_of(&scratch.json(&["enqueue", "report", "--channel", "scope:b", "--json"]));
    scratch.run(&["cancel", &report]).assert_success(&["cancel"]);
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["ls", "--json"];
        all.extend_from_slice(args);
        let listed = scratch.json(&all);
        listed
            .as_array()
            .expect("a list")
            .iter()
            .map(|t| t["taskId"].as_str().expect("id").to_owned())
            .collect()
    };
    assert_eq!(ids(&[]), vec![report.clone(), mail.clone()], "newest first");
    assert_eq!(ids(&["--order", "created-asc"]), vec![mail.clone(), report.clone()]);
    assert_eq!(ids(&["--state", "cancelled"]), vec![report.clone()]);
    assert_eq!(ids(&["--state", "queued,running"]), vec![mail.clone()]);
    assert_eq!(ids(&["--kind", "mail"]), vec![mail.clone()]);
    assert_eq!(ids(&["--channel", "scope:b"]), vec![report.clone()]);
    assert_eq!(ids(&["--limit", "1", "--offset", "1"]), vec![mail.clone()]);

    let run = scratch.run(&["ls"]);
    run.assert_success(&["ls"]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("ID") && lines[0].contains("STATE"), "{}", run.stdout);
    assert!(lines[1].starts_with(&report) && lines[1].contains("⊘ cancelled"), "{}", run.stdout);
    assert_eq!(lines.last().copied(), Some("2 of 2 matching tasks: 1 queued, 1 cancelled"));
    let none = scratch.run(&["ls", "--kind", "nothing"]);
    assert_eq!(none.stdout.trim(), "no tasks");
}

#[test]
fn show_prints_a_task_for_people_and_for_scripts() {
    let scratch = ready();
    let id = id_of(&scratch.json(&[
        "enqueue",
        "mail",
        "--input",
        r#"{"to":"ada"}"#,
        "--dedupe",
        "d1",
        "--json",
    ]));
    let run = scratch.run(&["show", &id]);
    run.assert_success(&["show"]);
    let out = &run.stdout;
    assert!(out.starts_with(&format!("task      {id}  mail")), "{out}");
    for part in [
        "· queued (attempt 0 of 7)",
        r#"input     {"to":"ada"}"#,
        "keys      dedupe d1",
        "no steps",
    ] {
        assert!(out.contains(part), "no {part:?} in:\n{out}");
    }
    let shown = scratch.json(&["show", &id, "--json"]);
    assert_eq!(
        (shown["taskId"].as_str(), shown["state"].as_str()),
        (Some(id.as_str()), Some("queued"))
    );
    assert_eq!(shown["steps"], serde_json::json!([]));
}

#[test]
fn cancel_and_compact() {
    let scratch = ready();
    let id = id_of(&scratch.json(&["enqueue", "mail", "--json"]));
    let run = scratch.run(&["cancel", &id, "--reason", "not needed"]);
    run.assert_success(&["cancel"]);
    assert_eq!(run.stdout.trim(), format!("cancelled {id} (mail)"));
    let shown = scratch.json(&["show", &id, "--json"]);
    assert_eq!(shown["state"], "cancelled");

    let kept = id_of(&scratch.json(&["enqueue", "mail", "--json"]));
    let report = scratch.json(&["compact", "--cancelled-ttl", "0s", "--json"]);
    assert_eq!(report["deletedTasks"], 1, "{report}");
    scratch.run(&["show", &id]).assert_failure(4, "not found");
    scratch.json(&["show", &kept, "--json"]);
    let run = scratch.run(&["compact", "--success-ttl", "7d"]);
    run.assert_success(&["compact"]);
    assert_eq!(run.stdout.trim(), "deleted 0 tasks and 0 steps; trimmed the steps of 0 tasks");
}

#[test]
fn compact_takes_its_policy_from_the_config_file() {
    let scratch = Scratch::new();
    scratch.write("tasks.toml", "[retention]\ncancelled_ttl = \"0s\"\n");
    scratch.run(&["migrate"]).assert_success(&["migrate"]);
    let id = id_of(&scratch.json(&["enqueue", "anything", "--json"]));
    scratch.run(&["cancel", &id]).assert_success(&["cancel"]);
    assert_eq!(scratch.json(&["compact", "--json"])["deletedTasks"], 1);
}

#[test]
fn schema_needs_no_database() {
    let scratch = Scratch::new();
    let sqlite = scratch.run(&["schema", "--driver", "sqlite"]);
    sqlite.assert_success(&["schema"]);
    assert!(sqlite.stdout.contains("CREATE TABLE"), "{}", sqlite.stdout);
    let postgres =
        scratch.run(&["schema", "--driver", "postgres", "--schema", "jobs", "--prefix", "tb_"]);
    postgres.assert_success(&["schema"]);
    assert!(
        postgres.stdout.contains("CREATE TABLE IF NOT EXISTS \"jobs\".\"tb_tasks\""),
        "{}",
        postgres.stdout
    );
    let json = scratch.json(&["schema", "--driver", "postgresql", "--json"]);
    assert_eq!(json["driver"], "postgres");
    assert!(json["sql"].as_str().is_some_and(|sql| sql.contains("\"public\".\"tasks_tasks\"")));
    // Without --driver: the configured store's, still without touching it.
    let from_url =
        scratch.run(&["schema", "--db", "postgres://nobody@127.0.0.1:1/x", "--db-prefix", "q_"]);
    from_url.assert_success(&["schema"]);
    assert!(from_url.stdout.contains("\"q_tasks\""), "{}", from_url.stdout);
    assert!(!scratch.path().join(".data").exists());
}

#[test]
fn migrate_is_idempotent() {
    let scratch = Scratch::new();
    let version = tasks::sqlite::SCHEMA_VERSION;
    let first = scratch.run(&["migrate", "--db", "sqlite:t.sqlite"]);
    assert_eq!(
        first.stdout.trim(),
        format!("sqlite:t.sqlite: schema created at version {version}")
    );
    let again = scratch.json(&["migrate", "--db", "sqlite:t.sqlite", "--json"]);
    assert_eq!(
        (again["version"].clone(), again["previousVersion"].clone()),
        (version.into(), version.into())
    );
    // A config file's SQLite path is relative to the file.
    std::fs::create_dir(scratch.path().join("conf")).expect("mkdir");
    scratch.write("conf/tasks.toml", "[store]\nurl = \"sqlite:here.sqlite\"\n");
    scratch.run(&["migrate", "--config", "conf/tasks.toml"]).assert_success(&["migrate"]);
    assert!(scratch.path().join("conf/here.sqlite").is_file());
}
