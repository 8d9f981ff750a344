//! Channels: names that group tasks for subscriptions, the [`task_channel`] helpers that
//! build them, and their normalization.
//!
//! A channel is a short string, by convention `prefix:value` (`scope:workspace:42`). A task
//! carries its channels explicitly; a subscription query matches a task that carries any of
//! the query's channels.

use crate::error::InvalidInput;
use crate::limits::{MAX_CHANNEL_LEN, MAX_CHANNELS};

/// Normalizes one channel: trims surrounding whitespace, then refuses an empty name, one over
/// [`MAX_CHANNEL_LEN`] bytes, or one holding whitespace or control characters.
///
/// # Errors
///
/// [`InvalidInput::Channel`] naming the problem.
pub fn normalize_channel(channel: &str) -> Result<String, InvalidInput> {
    let trimmed = channel.trim();
    let reason = if trimmed.is_empty() {
        "it is empty"
    } else if trimmed.len() > MAX_CHANNEL_LEN {
        "it is longer than 256 bytes"
    } else if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "it holds whitespace or control characters"
    } else {
        return Ok(trimmed.to_owned());
    };
    Err(InvalidInput::Channel { channel: channel.chars().take(64).collect(), reason })
}

/// Normalizes a list of channels: each as [`normalize_channel`], duplicates dropped (the first
/// occurrence keeps its place), at most [`MAX_CHANNELS`].
///
/// # Errors
///
/// [`InvalidInput::Channel`] or [`InvalidInput::TooManyChannels`].
pub fn normalize_channels<S: AsRef<str>>(channels: &[S]) -> Result<Vec<String>, InvalidInput> {
    if channels.len() > MAX_CHANNELS * 4 {
        // Refuse a hostile list before normalizing any of it.
        return Err(InvalidInput::TooManyChannels { count: channels.len(), limit: MAX_CHANNELS });
    }
    let mut normalized: Vec<String> = Vec::with_capacity(channels.len());
    for channel in channels {
        let channel = normalize_channel(channel.as_ref())?;
        if !normalized.contains(&channel) {
            normalized.push(channel);
        }
    }
    if normalized.len() > MAX_CHANNELS {
        return Err(InvalidInput::TooManyChannels { count: normalized.len(), limit: MAX_CHANNELS });
    }
    Ok(normalized)
}

/// Builders for the package-owned channel families, the spec's `taskChannel`.
///
/// ```
/// use tasks_core::task_channel;
/// assert_eq!(task_channel::scope("workspace:42"), "scope:workspace:42");
/// assert_eq!(task_channel::kind("report.generate"), "kind:report.generate");
/// ```
pub mod task_channel {
    macro_rules! family {
        ($($(#[$meta:meta])* $name:ident => $prefix:literal),+ $(,)?) => {
            $(
                $(#[$meta])*
                pub fn $name(value: impl AsRef<str>) -> String {
                    format!(concat!($prefix, ":{}"), value.as_ref().trim())
                }
            )+
        };
    }

    family! {
        /// The channel of one task: `task:ID`.
        task => "task",
        /// The channel of a task kind: `kind:KIND`.
        kind => "kind",
        /// A topic: `topic:NAME`.
        topic => "topic",
        /// A resource the task works on: `resource:ID`.
        resource => "resource",
        /// A correlation id (a request, a trace): `correlation:ID`.
        correlation => "correlation",
        /// A dedupe key: `dedupe:KEY`.
        dedupe => "dedupe",
        /// A concurrency key: `concurrency:KEY`.
        concurrency => "concurrency",
        /// A supersede key: `supersede:KEY`.
        supersede => "supersede",
        /// A host-defined scope (a workspace, a user, a panel): `scope:NAME`.
        scope => "scope",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_build_prefixed_names() {
        assert_eq!(task_channel::task("task_42"), "task:task_42");
        assert_eq!(task_channel::topic("imports"), "topic:imports");
        assert_eq!(task_channel::resource("repo:42"), "resource:repo:42");
        assert_eq!(task_channel::correlation("request:abc"), "correlation:request:abc");
        assert_eq!(task_channel::dedupe("report:rpt_42"), "dedupe:report:rpt_42");
        assert_eq!(task_channel::concurrency("k"), "concurrency:k");
        assert_eq!(task_channel::supersede("scan:repo_7"), "supersede:scan:repo_7");
    }

    #[test]
    fn normalization_trims_dedupes_and_refuses() {
        let got = normalize_channels(&[" scope:a ", "scope:b", "scope:a"]).expect("valid");
        assert_eq!(got, vec!["scope:a", "scope:b"]);
        assert!(matches!(normalize_channel("  "), Err(InvalidInput::Channel { .. })));
        assert!(matches!(normalize_channel("a b"), Err(InvalidInput::Channel { .. })));
        assert!(matches!(normalize_channel("a\u{0}"), Err(InvalidInput::Channel { .. })));
        let long = "c".repeat(MAX_CHANNEL_LEN + 1);
        assert!(matches!(normalize_channel(&long), Err(InvalidInput::Channel { .. })));
        let many: Vec<String> = (0..=MAX_CHANNELS).map(|i| format!("c{i}")).collect();
        assert!(matches!(normalize_channels(&many), Err(InvalidInput::TooManyChannels { .. })));
    }
}
