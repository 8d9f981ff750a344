//! Every error of the command is one line on stderr, `tasks: <message>`, with its exit status:
//! 1 refused, 2 bad usage (arguments, config file, JSON input, unknown kind, URL), 3 the store
//! cannot be reached, 4 no such task.

mod support;

use support::Scratch;

const CONFIG: &str = "[kinds.echo]\nprogram = \"cat\"\n";

/// A scratch directory with a config file and a migrated SQLite store (the default one).
fn ready() -> Scratch {
    let scratch = Scratch::new();
    scratch.write("tasks.toml", CONFIG);
    scratch.run(&["migrate"]).assert_success(&["migrate"]);
    scratch
}

#[test]
fn an_unknown_kind_is_refused() {
    let scratch = ready();
    let run = scratch.run(&["enqueue", "ehco", "--input", "{}"]);
    run.assert_failure(2, "unknown kind \"ehco\": tasks.toml defines echo");
    // Nothing was stored.
    assert_eq!(scratch.json(&["ls", "--json"]), serde_json::json!([]));
    // On purpose, for a kind a Rust host runs:
    scratch.run(&["enqueue", "ehco", "--any-kind"]).assert_success(&["enqueue"]);
}

#[test]
fn an_invalid_kind_name_is_refused() {
    let scratch = ready();
    scratch.run(&["enqueue", "no spaces", "--any-kind"]).assert_failure(2, "invalid task kind");
}

#[test]
fn invalid_json_input_is_refused() {
    let scratch = ready();
    let run = scratch.run(&["enqueue", "echo", "--input", "{\"reportId\": 4"]);
    run.assert_failure(2, "invalid JSON in --input: EOF while parsing an object at line 1");
    scratch.write("input.json", "[1, 2,]");
    scratch
        .run(&["enqueue", "echo", "--input", "@input.json"])
        .assert_failure(2, "invalid JSON in input.json");
    scratch
        .run(&["enqueue", "echo", "--input", "@missing.json"])
        .assert_failure(2, "cannot read the input file missing.json");
    scratch.run(&["enqueue", "echo", "--metadata", "[1]"]).assert_failure(2, "invalid --metadata");
    assert_eq!(scratch.json(&["ls", "--json"]), serde_json::json!([]));
}

#[test]
fn an_unreachable_database_is_exit_status_3() {
    let scratch = Scratch::new();
    let run = scratch.run(&["ls", "--db", "postgres://tasks:hunter2@127.0.0.1:1/tasks"]);
    run.assert_failure(3, "cannot connect to PostgreSQL at 127.0.0.1:1");
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    let run = scratch.run(&["enqueue", "echo", "--db", "sqlite:elsewhere/tasks.sqlite"]);
    run.assert_failure(3, "no task database at elsewhere/tasks.sqlite");
    let run = scratch.run(&["migrate", "--db", "sqlite:no/such/dir/tasks.sqlite"]);
    run.assert_failure(3, "its directory does not exist");
    // `ls` without any store yet: the default file does not exist, and is not created.
    scratch.run(&["ls"]).assert_failure(3, "no task database at .data/tasks.sqlite");
    assert!(!scratch.path().join(".data").exists());
}

#[test]
fn a_bad_config_file_names_the_line() {
    let scratch = Scratch::new();
    scratch.write("tasks.toml", "[worker]\nconcurrency = 2\n\nconcurency = 3\n");
    scratch.run(&["ls"]).assert_failure(2, "tasks.toml:4: unknown field `concurency`");
    scratch.write("other.toml", "[kinds.a]\nprogram = \"true\"\ntimeout = \"soon\"\n");
    let run = scratch.run(&["worker", "--config", "other.toml"]);
    run.assert_failure(2, "other.toml:3: invalid duration \"soon\"");
    scratch.write("broken.toml", "[kinds.a\nprogram = \"true\"\n");
    scratch.run(&["worker", "--config", "broken.toml"]).assert_failure(2, "broken.toml:1: ");
    scratch
        .run(&["worker", "--config", "absent.toml"])
        .assert_failure(2, "cannot read the config file absent.toml");
}

#[test]
fn a_worker_needs_kinds() {
    let scratch = Scratch::new();
    scratch.run(&["worker"]).assert_failure(2, "no config file");
    scratch.write("tasks.toml", "[worker]\nconcurrency = 2\n");
    scratch.run(&["worker"]).assert_failure(2, "tasks.toml defines no kinds");
}

#[test]
fn a_task_that_does_not_exist_is_exit_status_4() {
    let scratch = ready();
    let id = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    for command in ["show", "cancel", "watch"] {
        scratch.run(&[command, id]).assert_failure(4, &format!("task {id} not found"));
    }
    scratch.run(&["show", "not an id"]).assert_failure(2, "invalid task id");
}

#[test]
fn refusals_by_the_store_are_exit_status_1() {
    let scratch = ready();
    let created = scratch.json(&["enqueue", "echo", "--json"]);
    let id = created["task"]["id"].as_str().expect("an id");
    scratch.run(&["cancel", id]).assert_success(&["cancel"]);
    scratch.run(&["cancel", id]).assert_failure(1, "cannot cancel a task that is");
}

#[test]
fn bad_arguments_are_one_line_and_exit_status_2() {
    let scratch = ready();
    scratch
        .run(&["ls", "--bogus"])
        .assert_failure(2, "unexpected argument '--bogus' found (see `tasks ls --help`)");
    scratch.run(&["ls", "--state", "sleeping"]).assert_failure(2, "unknown state \"sleeping\"");
    scratch.run(&["enqueue", "echo", "--delay", "5 parsecs"]).assert_failure(2, "invalid duration");
    scratch.run(&["ls", "--db", "mysql://db/x"]).assert_failure(2, "unknown scheme \"mysql\"");
    scratch.run(&["ls", "--db", "tasks.sqlite"]).assert_failure(2, "write sqlite:tasks.sqlite");
    scratch.run(&["compact"]).assert_failure(2, "no retention policy");
    let run =
        scratch.run(&["ls", "--db", "postgres://u@127.0.0.1:1/x", "--db-schema", "no spaces"]);
    run.assert_failure(2, "invalid schema \"no spaces\"");
    scratch
        .run(&["schema", "--driver", "sqlite", "--prefix", "t_"])
        .assert_failure(2, "the sqlite store has no table prefix option");
    scratch
        .run(&["schema", "--driver", "postgres", "--prefix", "bad prefix"])
        .assert_failure(2, "invalid table_prefix");
    scratch.run(&["schema", "--driver", "oracle"]).assert_failure(2, "unknown store driver");
    let run = scratch.run(&[]);
    assert_eq!(run.status, Some(2), "no subcommand");
}

#[test]
fn help_and_version_succeed() {
    let scratch = Scratch::new();
    let help = scratch.run(&["--help"]);
    help.assert_success(&["--help"]);
    assert!(help.stdout.contains("Exit status: 0 success"), "{}", help.stdout);
    for command in [
        "demo", "worker", "enqueue", "ls", "show", "watch", "cancel", "compact", "schema",
        "migrate",
    ] {
        assert!(help.stdout.contains(command), "{command} is listed");
    }
    let version = scratch.run(&["--version"]);
    version.assert_success(&["--version"]);
    assert!(version.stdout.starts_with("tasks "), "{}", version.stdout);
}

#[test]
fn serving_beyond_loopback_needs_a_token() {
    let scratch = ready();
    let message = "serving on 0.0.0.0:0 (not loopback) needs --token or TASKS_DASHBOARD_TOKEN";
    scratch.run(&["serve", "--bind", "0.0.0.0:0"]).assert_failure(2, message);
    // Refused before the demo runs, so it leaves no store behind.
    let fresh = Scratch::new();
    fresh.run(&["demo", "--serve", "--bind", "0.0.0.0:0"]).assert_failure(2, message);
    assert!(!fresh.path().join(".data").exists(), "the refused demo made a store");
}
