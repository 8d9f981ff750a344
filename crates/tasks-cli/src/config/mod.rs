//! `tasks.toml`: where the store is, how the worker runs, what retention applies, and the
//! kinds the worker runs as child processes. Loaded and checked at once, so every mistake is
//! reported as `tasks.toml:LINE: message` before anything runs.
//!
//! - [`mod@file`]: the file's shape (serde); [`duration`] and [`mod@env`]: its value types.
//! - [`kinds`]: a kind's section as a host registration.
//! - Here: finding and loading the file, line numbers, the worker and retention sections.

pub(crate) mod duration;
pub(crate) mod env;
pub(crate) mod file;
pub(crate) mod kinds;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tasks::core::{Backoff, RetentionPolicy};
use tasks::host::{HandlerRegistration, RunnerOptions};
use toml::Spanned;

use crate::error::CliError;
use file::{ConfigFile, RetentionSection, WorkerSection};

/// The file looked for in the working directory when no `--config` is given.
pub(crate) const DEFAULT_FILE: &str = "tasks.toml";

/// A loaded, checked config file.
#[derive(Debug)]
pub(crate) struct Config {
    /// The path as given (for messages).
    path: PathBuf,
    /// The directory relative paths in the file are resolved against (absolute).
    dir: PathBuf,
    /// The text, for line numbers.
    source: String,
    /// What it says.
    pub(crate) file: ConfigFile,
    /// The kinds, as host registrations, in name order.
    registrations: Vec<HandlerRegistration>,
}

impl Config {
    /// Loads the file at `explicit`, or `tasks.toml` in the working directory when it exists;
    /// `None` when neither.
    pub(crate) fn find(explicit: Option<&Path>) -> Result<Option<Config>, CliError> {
        match explicit {
            Some(path) => Config::load(path).map(Some),
            None if Path::new(DEFAULT_FILE).is_file() => {
                Config::load(Path::new(DEFAULT_FILE)).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Loads and checks the file at `path`.
    pub(crate) fn load(path: &Path) -> Result<Config, CliError> {
        let source = std::fs::read_to_string(path).map_err(|err| {
            CliError::usage(format!("cannot read the config file {}: {err}", path.display()))
        })?;
        let file: ConfigFile = toml::from_str(&source).map_err(|err| {
            let line = err.span().map(|span| line_of(&source, span.start));
            located(path, line, err.message())
        })?;
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        // Absolute, so a program path stays right when its kind runs in another directory.
        let dir = std::path::absolute(&dir).map_err(|err| {
            CliError::usage(format!("cannot resolve the directory of {}: {err}", path.display()))
        })?;
        let mut config =
            Config { path: path.to_owned(), dir, source, file, registrations: Vec::new() };
        config.registrations = config.build_registrations()?;
        config.runner_options()?;
        config.retention()?;
        Ok(config)
    }

    /// The path as given.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// `path` resolved against the config file's directory.
    pub(crate) fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() { path.to_owned() } else { self.dir.join(path) }
    }

    /// The kinds the file defines, in name order.
    pub(crate) fn kind_names(&self) -> Vec<&str> {
        self.file.kinds.keys().map(|name| name.get_ref().as_str()).collect()
    }

    /// The attempts a task of `kind` gets when its enqueue does not say: the kind's
    /// `max_attempts`, else `[worker] default_max_attempts`.
    pub(crate) fn max_attempts_for(&self, kind: &str) -> Option<u32> {
        let of_kind = self
            .file
            .kinds
            .iter()
            .find(|(name, _)| name.get_ref() == kind)
            .and_then(|(_, section)| section.get_ref().max_attempts);
        of_kind.or(self
            .file
            .worker
            .as_ref()
            .and_then(|worker| worker.get_ref().default_max_attempts))
    }

    /// The kinds as host registrations.
    pub(crate) fn registrations(&self) -> &[HandlerRegistration] {
        &self.registrations
    }

    /// An error about the text at `span`, naming its line.
    pub(crate) fn error_at(&self, span: Range<usize>, message: impl std::fmt::Display) -> CliError {
        located(&self.path, Some(line_of(&self.source, span.start)), message)
    }

    /// The host's options from `[worker]` (and `[retention]`), over the defaults.
    pub(crate) fn runner_options(&self) -> Result<RunnerOptions, CliError> {
        let mut options = RunnerOptions::default();
        if let Some(section) = &self.file.worker {
            options = apply_worker(options, section.get_ref());
        }
        if let Some(policy) = self.retention()? {
            options = options.retention_policy(Some(policy));
        }
        if let Some(interval) =
            self.file.retention.as_ref().and_then(|section| section.get_ref().interval)
        {
            options = options.retention_interval(interval.0);
        }
        options.validate().map_err(|err| {
            let span = self.file.worker.as_ref().map_or(0..0, Spanned::span);
            self.error_at(span, format!("[worker]: {err}"))
        })?;
        Ok(options)
    }

    /// The retention policy of `[retention]`; `None` without the section or with an empty one.
    pub(crate) fn retention(&self) -> Result<Option<RetentionPolicy>, CliError> {
        let Some(section) = &self.file.retention else { return Ok(None) };
        let policy = retention_policy(section.get_ref());
        Ok((!policy.is_empty()).then_some(policy))
    }
}

/// `path:LINE: message`, or `path: message` without a line.
fn located(path: &Path, line: Option<usize>, message: impl std::fmt::Display) -> CliError {
    let message = message.to_string();
    let message = message.trim();
    match line {
        Some(line) => CliError::usage(format!("{}:{line}: {message}", path.display())),
        None => CliError::usage(format!("{}: {message}", path.display())),
    }
}

/// The 1-based line of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|byte| **byte == b'\n').count() + 1
}

fn apply_worker(mut options: RunnerOptions, section: &WorkerSection) -> RunnerOptions {
    if let Some(id) = &section.runner_id {
        options = options.runner_id(id.clone());
    }
    if let Some(concurrency) = section.concurrency {
        options = options.concurrency(concurrency);
    }
    let durations = [
        (section.lease, RunnerOptions::lease as fn(RunnerOptions, Duration) -> RunnerOptions),
        (section.heartbeat, RunnerOptions::heartbeat),
        (section.poll_interval, RunnerOptions::poll_interval),
        (section.stop_timeout, RunnerOptions::stop_timeout),
        (section.cancel_grace, RunnerOptions::cancel_grace),
        (section.progress_flush_interval, RunnerOptions::progress_flush_interval),
        (section.progress_event_interval, RunnerOptions::progress_event_interval),
    ];
    for (value, set) in durations {
        if let Some(value) = value {
            options = set(options, value.0);
        }
    }
    if let Some(watchdog) = section.watchdog {
        options = options.watchdog(Some(watchdog.0));
    }
    if let Some(attempts) = section.default_max_attempts {
        options = options.default_max_attempts(attempts);
    }
    options
}

fn retention_policy(section: &RetentionSection) -> RetentionPolicy {
    RetentionPolicy {
        success_ttl: section.success_ttl.map(|ttl| ttl.0),
        failed_ttl: section.failed_ttl.map(|ttl| ttl.0),
        cancelled_ttl: section.cancelled_ttl.map(|ttl| ttl.0),
        step_limit_per_task: section.step_limit_per_task,
        keep_latest_successes_per_kind: section.keep_latest_successes_per_kind,
        keep_latest_failures_per_kind: section.keep_latest_failures_per_kind,
    }
}

/// A backoff from its section, over the default.
pub(crate) fn backoff(section: &file::BackoffSection) -> Backoff {
    let default = Backoff::default();
    let min = section.min.map_or(default.min, |min| min.0);
    Backoff {
        min,
        // A first delay above the default cap raises the cap, rather than being refused.
        max: section.max.map_or(default.max.max(min), |max| max.0),
        factor: section.factor.unwrap_or(default.factor),
        jitter: section.jitter.unwrap_or(default.jitter),
    }
}

#[cfg(test)]
mod tests;
