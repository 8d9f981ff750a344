//! The history log: one line per thing a worker process saw happen (an enqueue acknowledged, an
//! attempt started, a task finished, a lease lost, a handler run or cancelled, a write tried),
//! appended by every process to its own file, and the checker that reads all of them back.
//!
//! A line is `TAG MILLIS FIELD...`, fields separated by one space (ids, runner names and
//! statuses hold none), except the free text of a note, which is the rest of the line. Each line
//! is written with one `write` call, so a process killed mid-run leaves at most its last line
//! torn; the parser skips a torn last line and nothing else.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use tasks_core::{TaskRecord, TaskStatus, Timestamp};

/// One thing a worker saw happen.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Event {
    /// The host started (`Y runner`).
    Ready {
        /// The runner id.
        runner: String,
    },
    /// An enqueue was acknowledged by the store (`E id`).
    Enqueued {
        /// The task.
        id: String,
    },
    /// A task was stored by a try whose answer was lost (a retry found its id taken): stored,
    /// but never acknowledged to the caller (`U id`).
    Unacknowledged {
        /// The task.
        id: String,
    },
    /// The store accepted an attempt's start (`S id attempt runner`).
    Started {
        /// The task.
        id: String,
        /// The attempt.
        attempt: u32,
        /// Who started it.
        runner: String,
    },
    /// The store accepted a terminal write (`F id attempt status runner`).
    Finished {
        /// The task.
        id: String,
        /// The attempt.
        attempt: u32,
        /// `succeeded`, `failed` or `cancelled`.
        status: String,
        /// Who wrote it.
        runner: String,
    },
    /// A failed attempt was queued for a retry (`T id attempt`).
    Retried {
        /// The task.
        id: String,
        /// The attempt that failed.
        attempt: u32,
    },
    /// An attempt was given back to the queue by a stopping host (`B id attempt`).
    Released {
        /// The task.
        id: String,
        /// The attempt given back.
        attempt: u32,
    },
    /// A lease was lost (`L id attempt owner`): this host was fenced off, or it recovered the
    /// task of a runner that stopped renewing its lease.
    LeaseLost {
        /// The task.
        id: String,
        /// The task's attempt as the event saw it.
        attempt: u32,
        /// The lease owner the event names.
        owner: String,
    },
    /// A handler began to run (`R id attempt`).
    Ran {
        /// The task.
        id: String,
        /// The attempt.
        attempt: u32,
    },
    /// A handler saw its cancel signal and stopped (`C id attempt`).
    Cancelled {
        /// The task.
        id: String,
        /// The attempt.
        attempt: u32,
    },
    /// A worker-side write reached the store (`W op id result`): `ok` or the error kind.
    Write {
        /// `start`, `heartbeat`, `set_progress`, `append_steps`, `complete`, `fail`,
        /// `acknowledge_cancel` or `release`.
        op: String,
        /// The task.
        id: String,
        /// `ok`, or the store error kind (`LeaseLost`...).
        result: String,
    },
    /// A runner error or warning the host reported (`G text`).
    Note {
        /// What it said.
        text: String,
    },
    /// The host stopped and the process is about to exit (`Q`).
    Quit,
}

/// An event with the wall-clock time it was logged at.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Line {
    /// Unix milliseconds.
    pub at: i64,
    /// What happened.
    pub event: Event,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.at;
        match &self.event {
            Event::Ready { runner } => write!(f, "Y {at} {runner}"),
            Event::Enqueued { id } => write!(f, "E {at} {id}"),
            Event::Unacknowledged { id } => write!(f, "U {at} {id}"),
            Event::Started { id, attempt, runner } => write!(f, "S {at} {id} {attempt} {runner}"),
            Event::Finished { id, attempt, status, runner } => {
                write!(f, "F {at} {id} {attempt} {status} {runner}")
            }
            Event::Retried { id, attempt } => write!(f, "T {at} {id} {attempt}"),
            Event::Released { id, attempt } => write!(f, "B {at} {id} {attempt}"),
            Event::LeaseLost { id, attempt, owner } => write!(f, "L {at} {id} {attempt} {owner}"),
            Event::Ran { id, attempt } => write!(f, "R {at} {id} {attempt}"),
            Event::Cancelled { id, attempt } => write!(f, "C {at} {id} {attempt}"),
            Event::Write { op, id, result } => write!(f, "W {at} {op} {id} {result}"),
            // A note is one line: newlines in the text would start a line of their own.
            Event::Note { text } => write!(f, "G {at} {}", text.replace(['\n', '\r'], " ")),
            Event::Quit => write!(f, "Q {at}"),
        }
    }
}

/// Why a line could not be read.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ParseError {
    /// The line.
    pub line: String,
    /// What was wrong.
    pub reason: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "history line {:?}: {}", self.line, self.reason)
    }
}

impl std::error::Error for ParseError {}

impl Line {
    /// A line logged now.
    pub fn now(event: Event) -> Self {
        Line { at: Timestamp::now_utc().as_millis(), event }
    }

    /// Reads one line back.
    ///
    /// # Errors
    ///
    /// [`ParseError`] naming what was wrong.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let error = |reason| ParseError { line: text.to_owned(), reason };
        let mut parts = text.splitn(3, ' ');
        let tag = parts.next().ok_or_else(|| error("empty line"))?;
        let at = parts
            .next()
            .and_then(|at| at.parse::<i64>().ok())
            .ok_or_else(|| error("no time after the tag"))?;
        let rest = parts.next().unwrap_or("");
        if tag == "G" {
            return Ok(Line { at, event: Event::Note { text: rest.to_owned() } });
        }
        let fields: Vec<&str> = rest.split(' ').filter(|field| !field.is_empty()).collect();
        let field = |index: usize| -> Result<String, ParseError> {
            fields
                .get(index)
                .map(|field| (*field).to_owned())
                .ok_or_else(|| error("too few fields"))
        };
        let number = |index: usize| -> Result<u32, ParseError> {
            field(index)?.parse::<u32>().map_err(|_| error("an attempt that is not a number"))
        };
        let event = match tag {
            "Y" => Event::Ready { runner: field(0)? },
            "E" => Event::Enqueued { id: field(0)? },
            "U" => Event::Unacknowledged { id: field(0)? },
            "S" => Event::Started { id: field(0)?, attempt: number(1)?, runner: field(2)? },
            "F" => Event::Finished {
                id: field(0)?,
                attempt: number(1)?,
                status: field(2)?,
                runner: field(3)?,
            },
            "T" => Event::Retried { id: field(0)?, attempt: number(1)? },
            "B" => Event::Released { id: field(0)?, attempt: number(1)? },
            "L" => Event::LeaseLost { id: field(0)?, attempt: number(1)?, owner: field(2)? },
            "R" => Event::Ran { id: field(0)?, attempt: number(1)? },
            "C" => Event::Cancelled { id: field(0)?, attempt: number(1)? },
            "W" => Event::Write { op: field(0)?, id: field(1)?, result: field(2)? },
            "Q" => Event::Quit,
            _ => return Err(error("an unknown tag")),
        };
        Ok(Line { at, event })
    }
}

/// A process's history file, appended one whole line per `write` call.
#[derive(Debug)]
pub struct HistoryLog {
    file: Mutex<File>,
}

impl HistoryLog {
    /// Creates (or appends to) the file at `path`.
    ///
    /// # Errors
    ///
    /// The file cannot be opened.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(HistoryLog { file: Mutex::new(file) })
    }

    /// Appends `event`, stamped now. A failed write is reported on stderr: the log is evidence,
    /// and the checker will notice what is missing.
    pub fn log(&self, event: Event) {
        let text = format!("{}\n", Line::now(event));
        let mut file = self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(error) = file.write_all(text.as_bytes()) {
            eprintln!("gauntlet-worker: cannot write the history log: {error}");
        }
    }
}

/// Reads a history file. A torn last line (the process was killed while writing it) is
/// skipped; any other bad line is an error.
///
/// # Errors
///
/// The file cannot be read, or a line other than the last is malformed.
pub fn read_file(path: &Path) -> Result<Vec<Line>, crate::Violation> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        crate::Violation(format!("cannot read the history {}: {error}", path.display()))
    })?;
    let torn_tail = !text.is_empty() && !text.ends_with('\n');
    let all: Vec<&str> = text.lines().collect();
    let mut lines = Vec::with_capacity(all.len());
    for (index, raw) in all.iter().enumerate() {
        match Line::parse(raw) {
            Ok(line) => lines.push(line),
            Err(_) if torn_tail && index + 1 == all.len() => {}
            Err(error) => return Err(crate::Violation(error.to_string())),
        }
    }
    Ok(lines)
}

/// What the checker found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Enqueues acknowledged.
    pub enqueued: usize,
    /// Tasks stored by a try whose answer was lost.
    pub unacknowledged: usize,
    /// Acknowledged tasks the store holds as succeeded.
    pub succeeded: usize,
    /// Acknowledged tasks not succeeded in the store (missing, or ended otherwise).
    pub lost: Vec<String>,
    /// Tasks with more than one terminal write acknowledged by the store.
    pub finished_twice: Vec<String>,
    /// Starts the store accepted twice for one attempt of one task.
    pub started_twice: Vec<String>,
    /// Attempts started, in all.
    pub starts: usize,
    /// Tasks started more than once (under different attempts): allowed only after a lost
    /// lease, a release or a retry.
    pub rerun: usize,
    /// Reruns with no lost lease, release or retry to allow them.
    pub unexplained_reruns: Vec<String>,
    /// Acknowledged tasks whose success the logs do not show (a worker was killed before it
    /// logged it, or the success was written by a try whose answer was lost).
    pub success_not_logged: usize,
}

impl Verdict {
    /// Whether nothing was lost, nothing finished twice and nothing ran twice beyond what
    /// leases allow.
    pub fn is_clean(&self) -> bool {
        self.lost.is_empty()
            && self.finished_twice.is_empty()
            && self.started_twice.is_empty()
            && self.unexplained_reruns.is_empty()
    }

    /// The broken promises, one sentence, with a few ids of each.
    pub fn problems(&self) -> String {
        let few = |ids: &[String]| ids.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        let mut problems = Vec::new();
        if !self.lost.is_empty() {
            problems.push(format!(
                "{} acknowledged tasks lost ({})",
                self.lost.len(),
                few(&self.lost)
            ));
        }
        if !self.finished_twice.is_empty() {
            problems.push(format!(
                "{} tasks finished twice ({})",
                self.finished_twice.len(),
                few(&self.finished_twice)
            ));
        }
        if !self.started_twice.is_empty() {
            problems.push(format!(
                "{} attempts started twice ({})",
                self.started_twice.len(),
                few(&self.started_twice)
            ));
        }
        if !self.unexplained_reruns.is_empty() {
            problems.push(format!(
                "{} tasks ran again with no lost lease, release or retry ({})",
                self.unexplained_reruns.len(),
                few(&self.unexplained_reruns)
            ));
        }
        problems.join("; ")
    }
}

/// Checks the histories of every process against the store's final records.
///
/// - Every acknowledged enqueue is in the store and succeeded (`lost` otherwise).
/// - No task has two terminal writes acknowledged (`finished_twice`).
/// - No (task, attempt) was started twice (`started_twice`); a task started under several
///   attempts must have lost a lease, been released or been retried in between.
pub fn check(lines: &[Line], records: &HashMap<String, TaskRecord>) -> Verdict {
    let mut verdict = Verdict::default();
    let mut enqueued: Vec<&str> = Vec::new();
    let mut finishes: HashMap<&str, usize> = HashMap::new();
    let mut logged_success: HashSet<&str> = HashSet::new();
    let mut starts: BTreeMap<(&str, u32), usize> = BTreeMap::new();
    let mut excused: HashSet<&str> = HashSet::new();
    for line in lines {
        match &line.event {
            Event::Enqueued { id } => enqueued.push(id),
            Event::Unacknowledged { .. } => verdict.unacknowledged += 1,
            Event::Finished { id, status, .. } => {
                *finishes.entry(id).or_default() += 1;
                if status == TaskStatus::Succeeded.as_str() {
                    logged_success.insert(id);
                }
            }
            Event::Started { id, attempt, .. } => *starts.entry((id, *attempt)).or_default() += 1,
            Event::LeaseLost { id, .. }
            | Event::Released { id, .. }
            | Event::Retried { id, .. } => {
                excused.insert(id);
            }
            _ => {}
        }
    }
    verdict.enqueued = enqueued.len();
    for id in &enqueued {
        match records.get(*id) {
            Some(record) if record.status == TaskStatus::Succeeded => verdict.succeeded += 1,
            _ => verdict.lost.push((*id).to_owned()),
        }
        if !logged_success.contains(id) {
            verdict.success_not_logged += 1;
        }
    }
    verdict.finished_twice =
        finishes.iter().filter(|(_, count)| **count > 1).map(|(id, _)| (*id).to_owned()).collect();
    verdict.finished_twice.sort();
    let mut attempts_of: BTreeMap<&str, usize> = BTreeMap::new();
    for ((id, attempt), count) in &starts {
        verdict.starts += count;
        if *count > 1 {
            verdict.started_twice.push(format!("{id}#{attempt}"));
        }
        *attempts_of.entry(id).or_default() += 1;
    }
    for (id, attempts) in attempts_of {
        if attempts > 1 {
            verdict.rerun += 1;
            if !excused.contains(id) {
                verdict.unexplained_reruns.push(id.to_owned());
            }
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(event: Event) -> Line {
        Line { at: 1_000, event }
    }

    #[test]
    fn every_line_reads_back_as_written() {
        let events = [
            Event::Ready { runner: "w-1".into() },
            Event::Enqueued { id: "t1".into() },
            Event::Unacknowledged { id: "t1".into() },
            Event::Started { id: "t1".into(), attempt: 2, runner: "w-1".into() },
            Event::Finished {
                id: "t1".into(),
                attempt: 2,
                status: "succeeded".into(),
                runner: "w-1".into(),
            },
            Event::Retried { id: "t1".into(), attempt: 1 },
            Event::Released { id: "t1".into(), attempt: 1 },
            Event::LeaseLost { id: "t1".into(), attempt: 1, owner: "w-0".into() },
            Event::Ran { id: "t1".into(), attempt: 1 },
            Event::Cancelled { id: "t1".into(), attempt: 1 },
            Event::Write { op: "heartbeat".into(), id: "t1".into(), result: "LeaseLost".into() },
            Event::Note { text: "claiming tasks: the store is gone".into() },
            Event::Quit,
        ];
        for event in events {
            let written = line(event);
            assert_eq!(Line::parse(&written.to_string()), Ok(written));
        }
    }

    #[test]
    fn bad_lines_are_refused_by_name() {
        for text in ["", "X 1 a", "S 1 t1", "S 1 t1 two w", "E notatime t1"] {
            assert!(Line::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_only_that() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("h.log");
        std::fs::write(&path, "E 1 t1\nS 2 t1 1 w\nF 3 t1").expect("written");
        let lines = read_file(&path).expect("readable");
        assert_eq!(lines.len(), 2);
        std::fs::write(&path, "E 1 t1\nF 3 t1\nS 2 t1 1 w\n").expect("written");
        assert!(read_file(&path).is_err());
    }

    #[test]
    fn the_checker_finds_each_broken_promise() {
        let record = |status| {
            let mut record = tasks_core::NewTask::new("k", serde_json::json!(null))
                .into_record(Timestamp::from_millis(0))
                .expect("valid");
            record.status = status;
            record
        };
        let records: HashMap<String, TaskRecord> = [
            ("ok".to_owned(), record(TaskStatus::Succeeded)),
            ("twice".to_owned(), record(TaskStatus::Succeeded)),
            ("rerun".to_owned(), record(TaskStatus::Succeeded)),
            ("failed".to_owned(), record(TaskStatus::Failed)),
        ]
        .into();
        let finished = |id: &str| Event::Finished {
            id: id.into(),
            attempt: 1,
            status: "succeeded".into(),
            runner: "w".into(),
        };
        let started =
            |id: &str, attempt| Event::Started { id: id.into(), attempt, runner: "w".into() };
        let lines: Vec<Line> = [
            Event::Enqueued { id: "ok".into() },
            Event::Enqueued { id: "twice".into() },
            Event::Enqueued { id: "rerun".into() },
            Event::Enqueued { id: "failed".into() },
            Event::Enqueued { id: "missing".into() },
            started("ok", 1),
            finished("ok"),
            started("twice", 1),
            started("twice", 1),
            finished("twice"),
            finished("twice"),
            started("rerun", 1),
            started("rerun", 2),
            finished("rerun"),
        ]
        .into_iter()
        .map(line)
        .collect();
        let verdict = check(&lines, &records);
        assert_eq!(verdict.enqueued, 5);
        assert_eq!(verdict.lost, vec!["failed".to_owned(), "missing".to_owned()]);
        assert_eq!(verdict.finished_twice, vec!["twice".to_owned()]);
        assert_eq!(verdict.started_twice, vec!["twice#1".to_owned()]);
        assert_eq!(verdict.unexplained_reruns, vec!["rerun".to_owned()]);
        assert!(!verdict.is_clean());

        let mut excused = lines.clone();
        excused.push(line(Event::LeaseLost { id: "rerun".into(), attempt: 1, owner: "w".into() }));
        assert!(check(&excused, &records).unexplained_reruns.is_empty());
    }
}
