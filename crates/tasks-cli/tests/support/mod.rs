//! Helpers for running the real `tasks` binary: a scratch directory as its working directory,
//! a clean environment, one-shot runs, and long-running children (worker, watch) whose stdout
//! is read line by line with generous timeouts and which are stopped when dropped.

#![allow(dead_code, unreachable_pub)]

pub mod scenario;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

/// How long anything may take on a loaded machine before a test gives up.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// A scratch directory the binary runs in.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch { dir: tempfile::tempdir().expect("a temp dir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file in the scratch directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).expect("write a scratch file");
        path
    }

    /// The binary, in the scratch directory, with no `TASKS_*` variable from outside.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tasks"));
        command.current_dir(self.path()).args(args).stdin(Stdio::null());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("TASKS_") {
                command.env_remove(name);
            }
        }
        command
    }

    /// Runs the binary to the end.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().expect("the binary runs");
        Run::from(output)
    }

    /// Runs the binary with `input` on its stdin.
    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let mut stdin = child.stdin.take().expect("piped stdin");
        std::io::Write::write_all(&mut stdin, input.as_bytes()).expect("write stdin");
        drop(stdin);
        Run::from(child.wait_with_output().expect("the binary runs"))
    }

    /// Runs the binary, expecting success, and parses its stdout as JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let run = self.run(args);
        run.assert_success(args);
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|err| panic!("{args:?} printed no JSON ({err}): {}", run.stdout))
    }

    /// Starts the binary in the background.
    pub fn spawn(&self, args: &[&str]) -> Running {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let (sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child: Some(child), lines, seen: Vec::new(), args: args.join(" ") }
    }
}

/// A finished run.
pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn assert_success(&self, args: &[&str]) {
        assert_eq!(
            self.status,
            Some(0),
            "{args:?} failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
    }

    /// Asserts a failure: the exit status, and one stderr line `tasks: ...` holding `part`.
    pub fn assert_failure(&self, status: i32, part: &str) {
        assert_eq!(self.status, Some(status), "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr, got:\n{}", self.stderr);
        assert!(lines[0].starts_with("tasks: "), "{}", lines[0]);
        assert!(lines[0].contains(part), "{:?} does not hold {part:?}", lines[0]);
    }
}

/// A binary running in the background; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Running {
    child: Option<Child>,
    lines: Receiver<String>,
    seen: Vec<String>,
    args: String,
}

impl Running {
    /// The next stdout line that satisfies `wanted`, within [`PATIENCE`].
    pub fn line_where(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    let stderr = self.stop_now();
                    panic!(
                        "`tasks {}` printed no line with {what}; it printed:\n{}\nstderr:\n{stderr}",
                        self.args,
                        self.seen.join("\n"),
                    )
                }
            }
        }
    }

    /// The next stdout line that is a JSON document satisfying `wanted`.
    pub fn json_where(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let line = self.line_where(what, |line| {
            serde_json::from_str::<Value>(line).is_ok_and(|value| wanted(&value))
        });
        serde_json::from_str(&line).expect("checked above")
    }

    /// Sends a signal.
    pub fn signal(&self, signal: Signal) {
        if let Some(child) = &self.child {
            let pid = Pid::from_raw(i32::try_from(child.id()).expect("a pid fits"));
            kill(pid, signal).expect("the child can be signalled");
        }
    }

    /// Waits for the exit (within [`PATIENCE`]) and returns the status and the rest of the
    /// output (stdout lines not read yet, and stderr).
    pub fn wait(mut self) -> Run {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("`tasks {}` did not exit", self.args);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = self.seen.join("\n");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            stdout.push('\n');
            stdout.push_str(&line);
        }
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        Run { status: status.code(), stdout, stderr }
    }

    /// Kills the child and returns its stderr, for a failure message.
    fn stop_now(&mut self) -> String {
        let Some(mut child) = self.child.take() else { return String::new() };
        let _ = child.kill();
        let _ = child.wait();
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        stderr
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The event name and task id of a live message line
/// (`{"type":"event","event":{"event":"progress","taskId":...}}`).
pub fn live_event(message: &Value) -> Option<(&str, &str)> {
    let event = message.get("event")?;
    Some((event.get("event")?.as_str()?, event.get("taskId")?.as_str()?))
}
