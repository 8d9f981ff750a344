//! Tests of loading `tasks.toml`: every section read, and every mistake named with its line.

use std::time::Duration;

use super::*;

fn load(text: &str) -> Result<Config, CliError> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("tasks.toml");
    std::fs::write(&path, text).expect("write the config");
    let loaded = Config::load(&path);
    // Messages name the file as given; tests compare from the file name on.
    loaded.map_err(|err| {
        let message = err.message.replace(&format!("{}", dir.path().display()), "DIR");
        CliError::usage(message)
    })
}

fn refusal(text: &str) -> String {
    match load(text) {
        Err(err) => err.message,
        Ok(config) => panic!("accepted: {config:?}"),
    }
}

const FULL: &str = r#"
[store]
url = "sqlite:tasks.sqlite"

[worker]
concurrency = 3
poll_interval = "250ms"
stop_timeout = "2s"
progress_event_interval = "100ms"

[retention]
success_ttl = "7d"
step_limit_per_task = 50
interval = "1m"

[kinds."report.generate"]
program = "python3"
args = ["workers/report.py"]
env = { REPORT_BUCKET = "reports" }
inherit_env = ["PATH"]
concurrency = 2
max_active = 4
timeout = "10m"
kill_grace = "1s"
max_attempts = 5
backoff = { min = "2s", max = "1m" }

[kinds.thumbnail]
program = "./bin/thumb.sh"
"#;

#[test]
fn reads_every_section() {
    let config = load(FULL).expect("valid");
    assert_eq!(config.kind_names(), vec!["report.generate", "thumbnail"]);
    assert_eq!(config.registrations().len(), 2);
    let options = config.runner_options().expect("valid options");
    assert_eq!(options.concurrency, 3);
    assert_eq!(options.poll_interval, Duration::from_millis(250));
    assert_eq!(options.stop_timeout, Duration::from_secs(2));
    assert_eq!(options.progress_event_interval, Duration::from_millis(100));
    assert_eq!(options.retention_interval, Duration::from_secs(60));
    let policy = config.retention().expect("valid").expect("a policy");
    assert_eq!(policy.success_ttl, Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(policy.step_limit_per_task, Some(50));
    assert_eq!(config.file.store.url.as_deref(), Some("sqlite:tasks.sqlite"));
}

#[test]
fn an_empty_file_is_a_valid_config() {
    let config = load("").expect("valid");
    assert!(config.kind_names().is_empty());
    assert_eq!(config.retention().expect("valid"), None);
}

#[test]
fn a_syntax_error_names_its_line() {
    let message = refusal("[worker]\nconcurrency = 2\npoll_interval = \"1s\n");
    assert!(message.starts_with("DIR/tasks.toml:3: "), "{message}");
}

#[test]
fn an_unknown_key_names_its_line() {
    let message = refusal("[worker]\n\nconcurency = 2\n");
    assert!(message.starts_with("DIR/tasks.toml:3: unknown field `concurency`"), "{message}");
}

#[test]
fn a_duration_without_unit_names_its_line() {
    let message = refusal("[kinds.a]\nprogram = \"true\"\ntimeout = 30\n");
    assert!(message.starts_with("DIR/tasks.toml:3: 30 has no unit"), "{message}");
    let message = refusal("[kinds.a]\nprogram = \"true\"\ntimeout = \"5 parsecs\"\n");
    assert!(message.starts_with("DIR/tasks.toml:3: invalid duration"), "{message}");
}

#[test]
fn a_kind_without_program_names_its_line() {
    let message = refusal("\n\n[kinds.a]\nargs = []\n");
    assert!(message.starts_with("DIR/tasks.toml:3: missing field `program`"), "{message}");
}

#[test]
fn a_bad_kind_name_names_its_line() {
    let message = refusal("[kinds.\"bad kind\"]\nprogram = \"true\"\n");
    assert!(message.starts_with("DIR/tasks.toml:1: invalid task kind \"bad kind\""), "{message}");
}

#[test]
fn bad_numbers_name_their_section() {
    let message = refusal(
        "[kinds.a]\nprogram = \"true\"\n\n[kinds.b]\nprogram = \"true\"\nconcurrency = 0\n",
    );
    assert!(message.starts_with("DIR/tasks.toml:4: kind \"b\": concurrency"), "{message}");
    let message = refusal("\n[worker]\nheartbeat = \"1m\"\n");
    assert!(message.starts_with("DIR/tasks.toml:2: [worker]: heartbeat"), "{message}");
    let message =
        refusal("[kinds.a]\nprogram = \"true\"\nbackoff = { min = \"1m\", max = \"1s\" }\n");
    assert!(message.starts_with("DIR/tasks.toml:1: kind \"a\": backoff.min"), "{message}");
}

#[test]
fn a_missing_file_is_a_usage_error() {
    let err = Config::load(Path::new("/nonexistent/tasks.toml")).expect_err("missing");
    assert_eq!(err.status, crate::error::ExitStatus::Usage);
    assert!(err.message.contains("cannot read the config file /nonexistent/tasks.toml"));
}

#[test]
fn lines_count_from_one() {
    assert_eq!(line_of("a\nb\nc", 0), 1);
    assert_eq!(line_of("a\nb\nc", 2), 2);
    assert_eq!(line_of("a\nb\nc", 99), 3);
}
