//! `tasks compact`: applies a retention policy once: deletes finished tasks past their TTL or
//! beyond the keep-latest limits, and trims each task's steps. The policy comes from the
//! options, over the config file's `[retention]`; open tasks are never deleted.

use std::time::Duration;

use clap::Args;
use tasks::core::{RetentionPolicy, Timestamp};

use crate::config::duration;
use crate::context::Context;
use crate::error::CliError;
use crate::output::{print_json, write_stdout};

/// Options of `tasks compact`.
#[derive(Args, Debug)]
pub(crate) struct CompactArgs {
    /// Delete succeeded tasks finished longer ago than this (7d, 12h...)
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    success_ttl: Option<Duration>,
    /// Delete failed tasks finished longer ago than this
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    failed_ttl: Option<Duration>,
    /// Delete cancelled tasks finished longer ago than this
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    cancelled_ttl: Option<Duration>,
    /// Keep only this many of each task's most recent steps
    #[arg(long, value_name = "N")]
    step_limit: Option<u32>,
    /// Keep only this many of the latest succeeded tasks of each kind
    #[arg(long, value_name = "N")]
    keep_successes: Option<u32>,
    /// Keep only this many of the latest failed tasks of each kind
    #[arg(long, value_name = "N")]
    keep_failures: Option<u32>,
}

pub(crate) fn run(args: CompactArgs, context: &Context) -> Result<(), CliError> {
    let base = match context.config()? {
        Some(config) => config.retention()?.unwrap_or_default(),
        None => RetentionPolicy::default(),
    };
    let policy = RetentionPolicy {
        success_ttl: args.success_ttl.or(base.success_ttl),
        failed_ttl: args.failed_ttl.or(base.failed_ttl),
        cancelled_ttl: args.cancelled_ttl.or(base.cancelled_ttl),
        step_limit_per_task: args.step_limit.or(base.step_limit_per_task),
        keep_latest_successes_per_kind: args.keep_successes.or(base.keep_latest_successes_per_kind),
        keep_latest_failures_per_kind: args.keep_failures.or(base.keep_latest_failures_per_kind),
    };
    if policy.is_empty() {
        return Err(CliError::usage(
            "no retention policy: give --success-ttl, --failed-ttl, --cancelled-ttl, --step-limit, \
             --keep-successes or --keep-failures, or a [retention] section in the config file",
        ));
    }
    let (_, store) = context.open_store()?;
    let report = store.compact(&policy, Timestamp::now_utc())?;
    if context.json() {
        return print_json(&report);
    }
    write_stdout(&format!(
        "deleted {} task{} and {} step{}; trimmed the steps of {} task{}",
        report.deleted_tasks,
        plural(report.deleted_tasks),
        report.deleted_steps,
        plural(report.deleted_steps),
        report.compacted_tasks,
        plural(report.compacted_tasks)
    ))
}

fn plural(count: u64) -> &'static str {
    if count == 1 { "" } else { "s" }
}
