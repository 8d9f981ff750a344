//! Small formatting rules shared by every text output: a task's state with its mark, a
//! percent, a duration, a time relative to now, and short ids.

use std::time::Duration;

use tasks::core::{LifecycleState, TaskSnapshot, Timestamp};

/// A mark per state, so a column of states reads at a glance.
pub(crate) fn mark(state: LifecycleState) -> &'static str {
    match state {
        LifecycleState::Queued => "·",
        LifecycleState::Claimed | LifecycleState::Running => "▸",
        LifecycleState::Retrying => "↻",
        LifecycleState::Succeeded => "✓",
        LifecycleState::Failed => "✗",
        LifecycleState::Cancelled => "⊘",
        LifecycleState::Stale => "!",
    }
}

/// `40%`, or `-` when no percent was reported.
pub(crate) fn percent(value: Option<f64>) -> String {
    match value {
        Some(percent) => format!("{percent:.0}%"),
        None => "-".to_owned(),
    }
}

/// `850 ms`, `12.4 s`, `3 min 5 s`, `2 h 10 min`.
pub(crate) fn duration(value: Duration) -> String {
    let millis = value.as_millis();
    let secs = value.as_secs();
    if millis < 1000 {
        format!("{millis} ms")
    } else if secs < 60 {
        format!("{:.1} s", value.as_secs_f64())
    } else if secs < 3600 {
        format!("{} min {} s", secs / 60, secs % 60)
    } else {
        format!("{} h {} min", secs / 3600, secs % 3600 / 60)
    }
}

/// `5 s ago`, `in 2 min` (for a time still to come), relative to `now`.
pub(crate) fn relative(at: Timestamp, now: Timestamp) -> String {
    if at.as_millis() > now.as_millis() {
        format!("in {}", coarse(at.duration_since(now)))
    } else {
        format!("{} ago", coarse(now.duration_since(at)))
    }
}

/// A duration to the second (or minute, hour, day) for relative times.
fn coarse(value: Duration) -> String {
    let secs = value.as_secs();
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    }
}

/// What a progress line shows after the state: why, for a task that failed, was cancelled or
/// waits for a retry (its error) or is stale; else its progress label.
pub(crate) fn status_text(snapshot: &TaskSnapshot) -> String {
    let why = match snapshot.state {
        LifecycleState::Failed | LifecycleState::Cancelled | LifecycleState::Retrying => {
            snapshot.error.as_ref().map(|error| error.message.as_str())
        }
        LifecycleState::Stale => snapshot.progress.stale_reason.as_deref(),
        _ => None,
    };
    if let Some(why) = why {
        return one_line(why, 80);
    }
    match &snapshot.progress.label {
        Some(label) => one_line(label, 60),
        None => String::new(),
    }
}

/// `text` on one line, cut to `max` characters.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &flat[..end]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_millis(850)), "850 ms");
        assert_eq!(duration(Duration::from_millis(12_400)), "12.4 s");
        assert_eq!(duration(Duration::from_secs(185)), "3 min 5 s");
        assert_eq!(duration(Duration::from_secs(7_800)), "2 h 10 min");
    }

    #[test]
    fn relative_times_look_both_ways() {
        let now = Timestamp::from_millis(1_000_000);
        assert_eq!(relative(Timestamp::from_millis(995_000), now), "5 s ago");
        assert_eq!(relative(Timestamp::from_millis(1_120_000), now), "in 2 min");
    }

    #[test]
    fn text_is_flattened_and_cut() {
        assert_eq!(one_line("a\n  b", 10), "a b");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(percent(Some(39.6)), "40%");
        assert_eq!(percent(None), "-");
    }
}
