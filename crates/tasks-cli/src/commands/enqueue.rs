//! `tasks enqueue KIND`: adds a task to the store, with its input and the enqueue options
//! (dedupe, supersede, concurrency key, delay or time, priority, channels, attempts).
//!
//! When a config file defines kinds, KIND must be one of them (a typo would otherwise wait
//! forever for a worker that never comes); `--any-kind` skips that check, for kinds that a
//! Rust host runs.

use std::io::Read;
use std::time::Duration;

use clap::Args;
use tasks::core::{EnqueueDisposition, EnqueueOptions, JsonObject, NewTask, TaskId, Timestamp};

use crate::config::duration;
use crate::context::Context;
use crate::error::CliError;
use crate::output::format::relative;
use crate::output::{print_json, write_stdout};

/// Options of `tasks enqueue`.
#[derive(Args, Debug)]
pub(crate) struct EnqueueArgs {
    /// The task kind
    kind: String,
    /// The input: JSON text, @FILE to read it from a file, or - for stdin [default: null]
    #[arg(long, short, value_name = "JSON")]
    input: Option<String>,
    /// Reuse the open task of this kind with this dedupe key instead of adding one
    #[arg(long, value_name = "KEY")]
    dedupe: Option<String>,
    /// Cancel the open tasks of this kind with this supersede key, then add this one
    #[arg(long, value_name = "KEY")]
    supersede: Option<String>,
    /// At most one task with this key is claimed or running at a time, across every worker
    #[arg(long, value_name = "KEY")]
    concurrency_key: Option<String>,
    /// Start no sooner than this from now (30s, 5m, 1h 30m)
    #[arg(long, value_name = "DURATION", value_parser = duration::parse, conflicts_with = "at")]
    delay: Option<Duration>,
    /// Start no sooner than this time (RFC 3339, e.g. 2030-01-01T09:00:00Z)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    at: Option<Timestamp>,
    /// Higher runs first [default: 0]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    priority: Option<i32>,
    /// A channel the task is published on (repeatable)
    #[arg(long = "channel", value_name = "CHANNEL")]
    channels: Vec<String>,
    /// Attempts in all [default: the config file's for the kind, else 3]
    #[arg(long, value_name = "N")]
    max_attempts: Option<u32>,
    /// Metadata kept with the task: a JSON object
    #[arg(long, value_name = "JSON")]
    metadata: Option<String>,
    /// The task's id [default: a new ULID]
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Enqueue even when the config file does not define the kind
    #[arg(long)]
    any_kind: bool,
}

fn parse_time(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text)
        .map_err(|err| format!("{err} (write RFC 3339, e.g. 2030-01-01T09:00:00Z)"))
}

pub(crate) fn run(args: EnqueueArgs, context: &Context) -> Result<(), CliError> {
    if !args.any_kind {
        check_kind(&args.kind, context)?;
    }
    let input = read_input(args.input.as_deref())?;
    let mut options = options(&args)?;
    if options.max_attempts.is_none()
        && let Some(config) = context.config()?
        && let Some(attempts) = config.max_attempts_for(&args.kind)
    {
        // What the worker's host would set had it enqueued the task itself.
        options = options.max_attempts(attempts);
    }
    let (_, store) = context.open_store()?;
    let outcome = store
        .enqueue(NewTask::new(&args.kind, input).with_options(options), Timestamp::now_utc())?;
    if context.json() {
        return print_json(&outcome);
    }
    let task = &outcome.task;
    let mut line = match outcome.disposition {
        EnqueueDisposition::Reused => format!(
            "reused {} ({}): an open task has dedupe key {}",
            task.id,
            task.kind,
            task.dedupe_key.as_deref().unwrap_or_default()
        ),
        _ => format!("created {} ({})", task.id, task.kind),
    };
    if !outcome.superseded_task_ids.is_empty() {
        let ids: Vec<String> = outcome.superseded_task_ids.iter().map(TaskId::to_string).collect();
        line.push_str(&format!(", superseding {}", ids.join(", ")));
    }
    let now = Timestamp::now_utc();
    if outcome.disposition != EnqueueDisposition::Reused && task.scheduled_at > now {
        line.push_str(&format!(", due {}", relative(task.scheduled_at, now)));
    }
    write_stdout(&line)
}

/// Refuses a kind the config file does not define (when it defines any).
fn check_kind(kind: &str, context: &Context) -> Result<(), CliError> {
    let Some(config) = context.config()? else { return Ok(()) };
    let known = config.kind_names();
    if known.is_empty() || known.contains(&kind) {
        return Ok(());
    }
    Err(CliError::usage(format!(
        "unknown kind {kind:?}: {} defines {} (pass --any-kind to enqueue it anyway)",
        config.path().display(),
        known.join(", ")
    )))
}

/// The input document: inline JSON, `@FILE`, or `-` for stdin.
fn read_input(input: Option<&str>) -> Result<serde_json::Value, CliError> {
    let (text, source) = match input {
        None => return Ok(serde_json::Value::Null),
        Some("-") => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|err| {
                CliError::usage(format!("cannot read the input from stdin: {err}"))
            })?;
            (text, "stdin".to_owned())
        }
        Some(path) if path.starts_with('@') => {
            let path = &path[1..];
            let text = std::fs::read_to_string(path).map_err(|err| {
                CliError::usage(format!("cannot read the input file {path}: {err}"))
            })?;
            (text, path.to_owned())
        }
        Some(text) => (text.to_owned(), "--input".to_owned()),
    };
    serde_json::from_str(&text)
        .map_err(|err| CliError::usage(format!("invalid JSON in {source}: {err}")))
}

fn options(args: &EnqueueArgs) -> Result<EnqueueOptions, CliError> {
    let mut options = EnqueueOptions::new();
    if let Some(key) = &args.dedupe {
        options = options.dedupe_key(key);
    }
    if let Some(key) = &args.supersede {
        options = options.supersede(key);
    }
    if let Some(key) = &args.concurrency_key {
        options = options.concurrency_key(key);
    }
    if let Some(delay) = args.delay {
        options = options.delay(delay);
    }
    if let Some(at) = args.at {
        options = options.scheduled_at(at);
    }
    if let Some(priority) = args.priority {
        options = options.priority(priority);
    }
    for channel in &args.channels {
        options = options.channel(channel);
    }
    if let Some(attempts) = args.max_attempts {
        options = options.max_attempts(attempts);
    }
    if let Some(metadata) = &args.metadata {
        let object: JsonObject = serde_json::from_str(metadata).map_err(|err| {
            CliError::usage(format!("invalid --metadata: {err} (give a JSON object)"))
        })?;
        options = options.metadata(object);
    }
    if let Some(id) = &args.id {
        options = options.id(TaskId::new(id).map_err(|err| CliError::usage(err.to_string()))?);
    }
    Ok(options)
}
