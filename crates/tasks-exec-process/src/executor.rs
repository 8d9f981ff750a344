//! [`ProcessExecutor`]: the [`TaskExecutor`] that runs each attempt as a child process. It
//! holds the configuration (program, arguments, working directory, environment, kill grace,
//! output limits); the private `run` module runs one attempt.
//!
//! It needs a tokio runtime with I/O and timers enabled (the host's), because it drives the
//! child's pipes and the kill grace period with tokio.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tasks_core::{BoxFuture, Execution, ExecutionOutcome, TaskExecutor, TaskInvocation};

use crate::env::EnvPolicy;
use crate::limits::OutputLimits;

/// Runs a kind's tasks as child processes of one program. Cloning is cheap and shares the
/// configuration.
///
/// ```
/// use std::time::Duration;
/// use tasks_exec_process::{EnvPolicy, OutputLimits, ProcessExecutor};
///
/// let executor = ProcessExecutor::new("python3")
///     .arg("workers/report.py")
///     .current_dir("/srv/app")
///     .env_policy(EnvPolicy::allow(["PATH", "HOME", "LANG"]))
///     .env("REPORT_BUCKET", "reports")
///     .kill_grace(Duration::from_secs(5))
///     .limits(OutputLimits::default().max_log_steps(1_000));
/// assert_eq!(executor.program(), "python3");
/// ```
#[derive(Clone, Debug)]
pub struct ProcessExecutor {
    config: Arc<ProcessConfig>,
}

/// What a [`ProcessExecutor`] starts and how.
#[derive(Clone, Debug)]
pub(crate) struct ProcessConfig {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) current_dir: Option<PathBuf>,
    pub(crate) env_policy: EnvPolicy,
    pub(crate) vars: Vec<(OsString, OsString)>,
    pub(crate) kill_grace: Duration,
    pub(crate) limits: OutputLimits,
}

impl ProcessExecutor {
    /// The default time between SIGTERM and SIGKILL: 3 seconds, inside the host's default
    /// cancel grace (5 s), so the child is killed by its executor, with its exit reported,
    /// before the host stops waiting for the execution.
    pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(3);

    /// An executor starting `program` (looked up in `PATH` when it has no `/`), with no
    /// arguments, in the host's working directory, under [`EnvPolicy::InheritNonSecret`],
    /// with a kill grace of [`Self::DEFAULT_KILL_GRACE`] and [`OutputLimits::default`].
    pub fn new(program: impl Into<OsString>) -> Self {
        ProcessExecutor {
            config: Arc::new(ProcessConfig {
                program: program.into(),
                args: Vec::new(),
                current_dir: None,
                env_policy: EnvPolicy::default(),
                vars: Vec::new(),
                kill_grace: Self::DEFAULT_KILL_GRACE,
                limits: OutputLimits::default(),
            }),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut ProcessConfig)) -> Self {
        change(Arc::make_mut(&mut self.config));
        self
    }

    /// Adds an argument.
    #[must_use]
    pub fn arg(self, arg: impl Into<OsString>) -> Self {
        self.with(|config| config.args.push(arg.into()))
    }

    /// Adds arguments.
    #[must_use]
    pub fn args<I, S>(self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.with(|config| config.args.extend(args.into_iter().map(Into::into)))
    }

    /// Runs the child in this directory.
    #[must_use]
    pub fn current_dir(self, dir: impl Into<PathBuf>) -> Self {
        self.with(|config| config.current_dir = Some(dir.into()))
    }

    /// Chooses which of the host's variables the child inherits.
    #[must_use]
    pub fn env_policy(self, policy: EnvPolicy) -> Self {
        self.with(|config| config.env_policy = policy)
    }

    /// Sets a variable for the child, whatever the policy.
    #[must_use]
    pub fn env(self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.with(|config| config.vars.push((name.into(), value.into())))
    }

    /// How long a child has between SIGTERM and SIGKILL once the attempt must stop. Keep it
    /// below the host's cancel grace: a host that stops waiting drops the execution, which
    /// kills the group with SIGKILL at once.
    #[must_use]
    pub fn kill_grace(self, grace: Duration) -> Self {
        self.with(|config| config.kill_grace = grace)
    }

    /// Bounds what is kept of the child's output.
    #[must_use]
    pub fn limits(self, limits: OutputLimits) -> Self {
        self.with(|config| config.limits = limits)
    }

    /// The program.
    pub fn program(&self) -> &OsStr {
        &self.config.program
    }

    /// The kill grace period.
    pub fn kill_grace_period(&self) -> Duration {
        self.config.kill_grace
    }

    /// The output limits.
    pub fn output_limits(&self) -> OutputLimits {
        self.config.limits
    }
}

impl ProcessConfig {
    /// The command for one attempt: the configured program in a process group of its own,
    /// with piped standard streams and the environment the policy allows.
    pub(crate) fn command(&self, invocation: &TaskInvocation) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.program);
        command.args(&self.args);
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        command.env_clear();
        command.envs(self.env_policy.select(std::env::vars_os()));
        command.envs(self.vars.iter().map(|(name, value)| (name, value)));
        command
            .env("TASKS_TASK_ID", invocation.id.as_str())
            .env("TASKS_TASK_KIND", &invocation.kind)
            .env("TASKS_ATTEMPT", invocation.attempt.to_string())
            .env("TASKS_MAX_ATTEMPTS", invocation.max_attempts.to_string());
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        command
    }
}

impl TaskExecutor for ProcessExecutor {
    fn execute(&self, execution: Execution) -> BoxFuture<'static, ExecutionOutcome> {
        let config = Arc::clone(&self.config);
        Box::pin(async move { crate::run::run_attempt(&config, execution).await })
    }
}
