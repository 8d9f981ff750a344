//! [`Board`]: live tasks for people or scripts. On a terminal, one progress bar per task
//! (indicatif): percent, label and state. Elsewhere (a pipe, a log file), one line each time a
//! task's state, percent or label changes. With `--json`, every live message as a JSON line,
//! in the spec's `TaskLiveMessage` shape.

use std::collections::HashMap;
use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tasks::core::{LifecycleState, TaskId, TaskLiveMessage, TaskSnapshot};
use tasks::live::TaskLiveTracker;

use super::format::{mark, one_line, percent, status_text};
use super::{print_json_line, write_stdout};
use crate::error::CliError;

/// How a board shows tasks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum BoardStyle {
    /// Progress bars (a terminal).
    Bars,
    /// A line per change (a pipe or a file).
    Lines,
    /// Each live message as a JSON line.
    Json,
    /// Nothing (the caller prints its own result).
    Quiet,
}

impl BoardStyle {
    /// JSON with `--json`; bars when stdout is a terminal; lines otherwise.
    pub(crate) fn detect(json: bool) -> Self {
        if json {
            BoardStyle::Json
        } else if std::io::stdout().is_terminal() {
            BoardStyle::Bars
        } else {
            BoardStyle::Lines
        }
    }
}

/// What a row last showed, to print only changes.
#[derive(Clone, PartialEq, Debug)]
struct Shown {
    state: LifecycleState,
    percent: Option<i64>,
    text: String,
}

/// One task on the board.
struct Row {
    bar: Option<ProgressBar>,
    shown: Option<Shown>,
}

/// Live tasks on screen.
pub(crate) struct Board {
    style: BoardStyle,
    bars: Option<MultiProgress>,
    rows: HashMap<TaskId, Row>,
}

impl Board {
    pub(crate) fn new(style: BoardStyle) -> Self {
        let bars = (style == BoardStyle::Bars)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()));
        Board { style, bars, rows: HashMap::new() }
    }

    /// Shows what `message` changed, reading the tasks from `tracker` (which has applied it).
    pub(crate) fn message(
        &mut self,
        message: &TaskLiveMessage,
        tracker: &TaskLiveTracker,
    ) -> Result<(), CliError> {
        match (self.style, message) {
            (BoardStyle::Json, _) => print_json_line(message),
            (BoardStyle::Quiet, _) => Ok(()),
            (_, TaskLiveMessage::Bootstrap(bootstrap)) => {
                // Oldest first, so bars keep the order tasks were created in.
                for listed in bootstrap.snapshots.iter().rev() {
                    if let Some(snapshot) = tracker.snapshot(&listed.task_id) {
                        self.show(snapshot)?;
                    }
                }
                Ok(())
            }
            (_, TaskLiveMessage::Event { event, .. }) => match tracker.snapshot(&event.task_id) {
                Some(snapshot) => self.show(snapshot),
                None => Ok(()),
            },
        }
    }

    /// Prints a line for people (above the bars on a terminal; nothing in JSON mode).
    pub(crate) fn note(&self, line: &str) -> Result<(), CliError> {
        match (&self.bars, self.style) {
            (_, BoardStyle::Json | BoardStyle::Quiet) => Ok(()),
            (Some(bars), _) => bars.println(line).map_err(CliError::from),
            (None, _) => write_stdout(line),
        }
    }

    /// Leaves the bars on screen as they are and stops drawing.
    pub(crate) fn finish(&mut self) {
        for row in self.rows.values() {
            if let Some(bar) = &row.bar
                && !bar.is_finished()
            {
                bar.abandon();
            }
        }
    }

    fn show(&mut self, snapshot: &TaskSnapshot) -> Result<(), CliError> {
        let shown = Shown {
            state: snapshot.state,
            percent: snapshot.progress.percent.map(|value| value.round() as i64),
            text: status_text(snapshot),
        };
        let bars = self.bars.clone();
        let row = self.rows.entry(snapshot.task_id.clone()).or_insert_with(|| Row {
            bar: bars.map(|bars| bars.add(new_bar(snapshot))),
            shown: None,
        });
        if row.shown.as_ref() == Some(&shown) {
            return Ok(());
        }
        row.shown = Some(shown.clone());
        match &row.bar {
            Some(bar) => {
                update_bar(bar, snapshot, &shown);
                Ok(())
            }
            None => write_stdout(&change_line(snapshot, &shown)),
        }
    }
}

fn new_bar(snapshot: &TaskSnapshot) -> ProgressBar {
    let style = ProgressStyle::with_template("{prefix} [{bar:24}] {pos:>3}% {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bar = ProgressBar::new(100).with_style(style);
    bar.set_prefix(format!("{:<20} {}", one_line(&snapshot.kind, 20), short_id(&snapshot.task_id)));
    bar
}

fn update_bar(bar: &ProgressBar, snapshot: &TaskSnapshot, shown: &Shown) {
    let position = match (shown.percent, shown.state) {
        (_, LifecycleState::Succeeded) => 100,
        (Some(value), _) => value.clamp(0, 100) as u64,
        (None, _) => 0,
    };
    bar.set_position(position);
    let message = format!("{} {} {}", mark(snapshot.state), snapshot.state.as_str(), shown.text);
    bar.set_message(message.trim_end().to_owned());
    if snapshot.status.is_terminal() {
        // `abandon` keeps the position (`finish` would fill the bar of a cancelled task).
        bar.abandon();
    }
}

/// `12:00:01.123  ▸ running    01J…  demo.report  40% page 2 of 5`.
fn change_line(snapshot: &TaskSnapshot, shown: &Shown) -> String {
    let time = snapshot.updated_at.to_rfc3339();
    let clock =
        time.split_once('T').map_or(time.as_str(), |(_, clock)| clock.trim_end_matches('Z'));
    let line = format!(
        "{clock}  {} {:<9}  {}  {}  {} {}",
        mark(shown.state),
        shown.state.as_str(),
        snapshot.task_id,
        snapshot.kind,
        percent(snapshot.progress.percent),
        shown.text
    );
    line.trim_end().to_owned()
}

/// The last 8 characters of an id: enough to tell a screenful of tasks apart.
fn short_id(id: &TaskId) -> String {
    let text = id.as_str();
    let start = text.char_indices().rev().nth(7).map_or(0, |(at, _)| at);
    format!("…{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_keep_the_end() {
        let id = TaskId::new("01JABCDEFGHJKMNPQRSTVWXYZ0").expect("valid id");
        assert_eq!(short_id(&id), "…STVWXYZ0");
        let id = TaskId::new("t1").expect("valid id");
        assert_eq!(short_id(&id), "…t1");
    }
}
