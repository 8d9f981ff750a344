//! Worker processes, the parent's side: [`WorkerArgs`] (what a `gauntlet-worker` process does,
//! as command-line arguments) and [`Worker`], a running one the scenario can stop, kill, freeze
//! with `SIGSTOP` and thaw with `SIGCONT`.
//!
//! A worker runs one [`TaskHost`](tasks_host::TaskHost) on the scenario's store, logs what it
//! sees to its history file (see [`history`](super::history)), optionally enqueues a share of
//! the tasks itself, and stops gracefully when its stdin closes.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::history::{Event, Line, read_file};
use super::stores::StoreSpec;
use crate::Violation;

/// The environment variable naming the worker binary, for runs where it is not next to the
/// running executable.
pub const WORKER_BIN_ENV: &str = "TASKS_GAUNTLET_WORKER";

/// What one worker process does.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerArgs {
    /// The store.
    pub store: StoreSpec,
    /// The runner id (unique per process).
    pub runner: String,
    /// The history file.
    pub log: PathBuf,
    /// Tasks the host runs at once.
    pub concurrency: u32,
    /// The lease of a claim.
    pub lease: Duration,
    /// How often leases are renewed.
    pub heartbeat: Duration,
    /// How often the host polls for due tasks.
    pub poll: Duration,
    /// How often expired leases are recovered.
    pub recover_every: Duration,
    /// How long a stopped handler gets before the host stops waiting.
    pub cancel_grace: Duration,
    /// Attempts a task gets.
    pub max_attempts: u32,
    /// Tasks this worker enqueues itself once its host runs (ids `PREFIX-N`).
    pub enqueue: u64,
    /// Tasks per enqueue batch.
    pub batch: u32,
    /// The id prefix of the tasks it enqueues.
    pub prefix: String,
    /// The input of the tasks it enqueues (see [`WorkInput`](super::work::WorkInput)).
    pub input: Value,
    /// Log every worker-side write and its result (`W` lines).
    pub log_writes: bool,
}

impl WorkerArgs {
    /// A worker on `store` named `runner`, logging to `log`, with settings for short tests:
    /// concurrency 8, lease 2 s, heartbeat 200 ms, poll 100 ms, recovery every 200 ms.
    pub fn new(store: StoreSpec, runner: impl Into<String>, log: PathBuf) -> Self {
        WorkerArgs {
            store,
            runner: runner.into(),
            log,
            concurrency: 8,
            lease: Duration::from_secs(2),
            heartbeat: Duration::from_millis(200),
            poll: Duration::from_millis(100),
            recover_every: Duration::from_millis(200),
            cancel_grace: Duration::from_secs(1),
            max_attempts: 10,
            enqueue: 0,
            batch: 500,
            prefix: String::new(),
            input: Value::Object(serde_json::Map::new()),
            log_writes: false,
        }
    }

    /// The command-line arguments.
    pub fn to_args(&self) -> Vec<String> {
        let millis = |duration: Duration| duration.as_millis().to_string();
        let mut args = self.store.to_args();
        args.extend([
            "--runner".into(),
            self.runner.clone(),
            "--log".into(),
            self.log.display().to_string(),
            "--concurrency".into(),
            self.concurrency.to_string(),
            "--lease-ms".into(),
            millis(self.lease),
            "--heartbeat-ms".into(),
            millis(self.heartbeat),
            "--poll-ms".into(),
            millis(self.poll),
            "--recover-ms".into(),
            millis(self.recover_every),
            "--grace-ms".into(),
            millis(self.cancel_grace),
            "--max-attempts".into(),
            self.max_attempts.to_string(),
            "--enqueue".into(),
            self.enqueue.to_string(),
            "--batch".into(),
            self.batch.to_string(),
            "--prefix".into(),
            self.prefix.clone(),
            "--input".into(),
            self.input.to_string(),
        ]);
        if self.log_writes {
            args.push("--log-writes".into());
        }
        args
    }

    /// Reads the arguments back.
    ///
    /// # Errors
    ///
    /// A message naming the bad or missing argument.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut sqlite = None;
        let mut postgres = None;
        let mut schema = None;
        let mut runner = None;
        let mut log = None;
        let mut parsed = WorkerArgs::new(
            StoreSpec::Sqlite { path: PathBuf::new() },
            String::new(),
            PathBuf::new(),
        );
        let mut rest = args.iter();
        while let Some(flag) = rest.next() {
            if flag == "--log-writes" {
                parsed.log_writes = true;
                continue;
            }
            let value = rest.next().ok_or_else(|| format!("{flag} takes a value"))?;
            let number = |what: &str| -> Result<u64, String> {
                value.parse::<u64>().map_err(|_| format!("{what} takes a number, not {value:?}"))
            };
            let millis = |what: &str| number(what).map(Duration::from_millis);
            let small = |what: &str| {
                u32::try_from(number(what)?).map_err(|_| format!("{what} is too large: {value}"))
            };
            match flag.as_str() {
                "--sqlite" => sqlite = Some(PathBuf::from(value)),
                "--postgres" => postgres = Some(value.clone()),
                "--schema" => schema = Some(value.clone()),
                "--runner" => runner = Some(value.clone()),
                "--log" => log = Some(PathBuf::from(value)),
                "--concurrency" => parsed.concurrency = small(flag)?,
                "--lease-ms" => parsed.lease = millis(flag)?,
                "--heartbeat-ms" => parsed.heartbeat = millis(flag)?,
                "--poll-ms" => parsed.poll = millis(flag)?,
                "--recover-ms" => parsed.recover_every = millis(flag)?,
                "--grace-ms" => parsed.cancel_grace = millis(flag)?,
                "--max-attempts" => parsed.max_attempts = small(flag)?,
                "--enqueue" => parsed.enqueue = number(flag)?,
                "--batch" => parsed.batch = small(flag)?,
                "--prefix" => parsed.prefix = value.clone(),
                "--input" => {
                    parsed.input = serde_json::from_str(value)
                        .map_err(|error| format!("--input is not JSON: {error}"))?;
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        parsed.store = match (sqlite, postgres, schema) {
            (Some(path), None, None) => StoreSpec::Sqlite { path },
            (None, Some(url), Some(schema)) => StoreSpec::Postgres { url, schema },
            _ => return Err("give either --sqlite PATH or --postgres URL --schema NAME".into()),
        };
        parsed.runner = runner.ok_or("--runner is required")?;
        parsed.log = log.ok_or("--log is required")?;
        Ok(parsed)
    }
}

/// How to start a worker: a program and the arguments that come before the worker's own.
///
/// In order: [`WORKER_BIN_ENV`]; the running gauntlet runner itself with `worker` first (so a
/// runner built alone by `cargo run` never starts a stale worker binary); else the
/// `gauntlet-worker` binary next to the running executable or its parent directory (tests run
/// from `target/*/deps`, and cargo builds the package's binaries for its integration tests).
///
/// # Errors
///
/// A message naming where it looked.
pub fn worker_program() -> Result<(PathBuf, Vec<String>), Violation> {
    if let Some(path) = std::env::var_os(WORKER_BIN_ENV) {
        return Ok((PathBuf::from(path), Vec::new()));
    }
    let exe = std::env::current_exe()?;
    if exe.file_stem().is_some_and(|stem| stem == "tasks-gauntlet") {
        return Ok((exe, vec![WORKER_SUBCOMMAND.to_owned()]));
    }
    let name = format!("gauntlet-worker{}", std::env::consts::EXE_SUFFIX);
    let mut dirs = exe.ancestors().skip(1).take(2);
    let found = dirs.find_map(|dir| Some(dir.join(&name)).filter(|path| path.is_file()));
    found.map(|path| (path, Vec::new())).ok_or_else(|| {
        Violation(format!(
            "the worker binary {name} is not next to {} (build it with `cargo build -p \
             tasks-gauntlet --bins`, or set {WORKER_BIN_ENV})",
            exe.display()
        ))
    })
}

/// The first argument that makes the gauntlet runner act as a worker.
pub const WORKER_SUBCOMMAND: &str = "worker";

/// A running worker process.
#[derive(Debug)]
pub struct Worker {
    /// What it was started with.
    pub args: WorkerArgs,
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: PathBuf,
}

/// How long a scenario waits for a worker to do something it should do quickly.
pub const PATIENCE: Duration = Duration::from_secs(60);

impl Worker {
    /// Starts a worker and waits until its host runs.
    ///
    /// # Errors
    ///
    /// The binary is missing, or the worker did not get ready within [`PATIENCE`].
    pub fn start(args: WorkerArgs) -> Result<Self, Violation> {
        let (binary, leading) = worker_program()?;
        let stderr = args.log.with_extension("stderr");
        let child = Command::new(&binary)
            .args(leading)
            .args(args.to_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr)?)
            .spawn()
            .map_err(|error| {
                Violation(format!("cannot start the worker {}: {error}", binary.display()))
            })?;
        let mut worker = Worker { args, child, stdin: None, stderr };
        worker.stdin = worker.child.stdin.take();
        worker.wait_for_line("its host to start", |event| matches!(event, Event::Ready { .. }))?;
        Ok(worker)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The runner id.
    pub fn runner(&self) -> &str {
        &self.args.runner
    }

    /// The history logged so far.
    ///
    /// # Errors
    ///
    /// The log cannot be read.
    pub fn history(&self) -> Result<Vec<Line>, Violation> {
        if !self.args.log.exists() {
            return Ok(Vec::new());
        }
        read_file(&self.args.log)
    }

    /// What the worker wrote to stderr.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until the worker logs a line passing `check`, failing fast if it exits.
    ///
    /// # Errors
    ///
    /// It exited first, or [`PATIENCE`] ran out.
    pub fn wait_for_line(
        &mut self,
        what: &str,
        check: impl Fn(&Event) -> bool,
    ) -> Result<(), Violation> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if self.history()?.iter().any(|line| check(&line.event)) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(Violation(format!(
                    "worker {} exited ({status}) before {what}; stderr: {}",
                    self.args.runner,
                    tail(&self.stderr())
                )));
            }
            if Instant::now() >= deadline {
                return Err(Violation(format!(
                    "worker {} did not get to {what} within {} s",
                    self.args.runner,
                    PATIENCE.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (`KILL`, `STOP`, `CONT`) to the process.
    ///
    /// # Errors
    ///
    /// `kill` failed.
    pub fn signal(&self, signal: &str) -> Result<(), Violation> {
        send_signal(self.pid(), signal)
    }

    /// Kills the process with `SIGKILL` and reaps it: no stop, no release, no last write.
    ///
    /// # Errors
    ///
    /// The kill failed.
    pub fn kill(mut self) -> Result<Vec<Line>, Violation> {
        self.child.kill()?;
        self.child.wait()?;
        self.history()
    }

    /// Asks the worker to stop (closes its stdin), waits for it to exit, and checks it exited
    /// cleanly without a panic.
    ///
    /// # Errors
    ///
    /// It did not exit within [`PATIENCE`], exited with a failure, or panicked.
    pub fn stop(mut self) -> Result<Vec<Line>, Violation> {
        drop(self.stdin.take());
        let status = self.wait_exit(PATIENCE)?;
        let stderr = self.stderr();
        if stderr.contains("panicked") {
            return Err(Violation(format!(
                "worker {} panicked: {}",
                self.args.runner,
                tail(&stderr)
            )));
        }
        if !status.success() {
            return Err(Violation(format!(
                "worker {} exited with {status}: {}",
                self.args.runner,
                tail(&stderr)
            )));
        }
        self.history()
    }

    fn wait_exit(&mut self, patience: Duration) -> Result<ExitStatus, Violation> {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(Violation(format!(
                    "worker {} did not stop within {} s of being asked; killed",
                    self.args.runner,
                    patience.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A scenario that failed half way must not leave processes behind (a frozen one would
        // stay frozen forever).
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = send_signal(self.child.id(), "CONT");
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends `signal` to process `pid` through `kill(1)` (this crate forbids unsafe code, so no
/// direct `libc::kill`).
///
/// # Errors
///
/// `kill` could not run or failed.
pub fn send_signal(pid: u32, signal: &str) -> Result<(), Violation> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|error| Violation(format!("cannot run kill -{signal} {pid}: {error}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Violation(format!("kill -{signal} {pid} failed ({status})")))
    }
}

/// The last few lines of a text, for messages.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(8);
    lines[start..].join(" | ")
}

/// Reads every history file in `paths` into one list.
///
/// # Errors
///
/// A file cannot be read.
pub fn read_all(paths: &[&Path]) -> Result<Vec<Line>, Violation> {
    let mut lines = Vec::new();
    for path in paths {
        if path.exists() {
            lines.extend(read_file(path)?);
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_read_back_as_written() {
        let store = StoreSpec::Postgres { url: "postgres://u@h:5/db".into(), schema: "s".into() };
        let mut args = WorkerArgs::new(store, "w-1", PathBuf::from("/tmp/w-1.log"));
        args.enqueue = 25_000;
        args.prefix = "p3".into();
        args.input = serde_json::json!({ "workMs": 5 });
        args.log_writes = true;
        args.lease = Duration::from_millis(1500);
        assert_eq!(WorkerArgs::parse(&args.to_args()), Ok(args.clone()));
        let sqlite =
            WorkerArgs::new(StoreSpec::Sqlite { path: "/tmp/t.db".into() }, "w", "l".into());
        assert_eq!(WorkerArgs::parse(&sqlite.to_args()), Ok(sqlite));
    }

    #[test]
    fn bad_arguments_are_named() {
        let error = WorkerArgs::parse(&["--concurrency".into(), "many".into()]).expect_err("bad");
        assert!(error.contains("--concurrency"), "{error}");
        let error = WorkerArgs::parse(&["--runner".into(), "w".into()]).expect_err("no store");
        assert!(error.contains("--sqlite"), "{error}");
    }
}
