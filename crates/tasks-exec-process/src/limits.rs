//! [`OutputLimits`]: how much of a child's output the executor keeps, so that no amount of
//! output grows the host's memory or the task's log without bound.

/// Bounds on what the executor keeps of a child's output.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct OutputLimits {
    /// The longest stdout line read, in bytes (1 MiB by default). The rest of a longer line is
    /// read and thrown away; the line is noted as cut (a `warn` log step), and a cut `result`
    /// line fails the attempt. The limit counts the whole line, so a `result` line must fit
    /// its output and its envelope.
    pub max_line_bytes: usize,
    /// How much of the end of stderr is kept for the error message, in bytes (8 KiB by
    /// default).
    pub stderr_tail_bytes: usize,
    /// How many plain stdout lines become `log` steps in one attempt (10,000 by default).
    /// Later plain lines are counted, and one final step says how many were left out.
    /// Protocol messages (`step`, `progress`...) do not count toward it and are all handed to
    /// the reporter; a host may still drop steps past its own step rate limit.
    pub max_log_steps: u64,
}

impl OutputLimits {
    /// The default longest line: 1 MiB.
    pub const DEFAULT_MAX_LINE_BYTES: usize = 1024 * 1024;
    /// The default stderr tail: 8 KiB.
    pub const DEFAULT_STDERR_TAIL_BYTES: usize = 8 * 1024;
    /// The default number of log steps per attempt: 10,000.
    pub const DEFAULT_MAX_LOG_STEPS: u64 = 10_000;

    /// The same limits with another longest line (at least 1 byte).
    #[must_use]
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes.max(1);
        self
    }

    /// The same limits with another stderr tail (at least 1 byte).
    #[must_use]
    pub fn stderr_tail_bytes(mut self, bytes: usize) -> Self {
        self.stderr_tail_bytes = bytes.max(1);
        self
    }

    /// The same limits with another number of log steps.
    #[must_use]
    pub fn max_log_steps(mut self, steps: u64) -> Self {
        self.max_log_steps = steps;
        self
    }
}

impl Default for OutputLimits {
    fn default() -> Self {
        OutputLimits {
            max_line_bytes: Self::DEFAULT_MAX_LINE_BYTES,
            stderr_tail_bytes: Self::DEFAULT_STDERR_TAIL_BYTES,
            max_log_steps: Self::DEFAULT_MAX_LOG_STEPS,
        }
    }
}
