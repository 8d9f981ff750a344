//! [`ProcessGroup`]: signals a child's whole process group, and kills it when dropped while
//! armed.
//!
//! Each child is spawned as the leader of a new process group (`process_group(0)`), so its
//! process group id is its pid and everything it starts (a shell's commands, their children)
//! belongs to the group unless it deliberately leaves it (`setsid`). Signals go to the group
//! through `killpg(2)`, by the `nix` crate's safe wrapper: no `unsafe` here, and no `kill`
//! process to spawn (which would fail exactly when the machine is out of processes).
//!
//! The pid-reuse hazard: a group id stays reserved by the kernel while any member lives, so
//! signalling a group is exact while the leader or any of its descendants runs. The executor
//! sends its last signal right after reaping the leader; the group id could only name
//! another group if every member had died and the id had been reused as a new group leader's
//! pid in between, which Linux's sequential pid allocation makes vanishingly unlikely.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// A child's process group.
pub(crate) struct ProcessGroup {
    id: Pid,
    /// Until the group is killed for good; atomic because the group is shared with the
    /// supervising future while the attempt runs.
    armed: AtomicBool,
}

impl ProcessGroup {
    /// The group led by the child with this pid.
    pub(crate) fn led_by(pid: u32) -> Option<Self> {
        let id = i32::try_from(pid).ok().filter(|&id| id > 0)?;
        Some(ProcessGroup { id: Pid::from_raw(id), armed: AtomicBool::new(true) })
    }

    /// Sends `signal` to every process of the group. A group that no longer exists is not
    /// an error: it is what the caller wants.
    pub(crate) fn signal(&self, signal: Signal) {
        let _ = killpg(self.id, signal);
    }

    /// Kills what is left of the group and stops the drop guard: called once the leader has
    /// been reaped, so nothing the attempt started outlives it.
    pub(crate) fn kill_rest(&self) {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.signal(Signal::SIGKILL);
        }
    }
}

impl Drop for ProcessGroup {
    /// An execution dropped before the child ended (the host aborted it) still kills the
    /// whole group; the tokio runtime reaps the leader.
    fn drop(&mut self) {
        self.kill_rest();
    }
}

/// A signal's name (`SIGKILL`), or its number when unknown.
pub(crate) fn signal_name(number: i32) -> String {
    Signal::try_from(number)
        .map(|signal| signal.as_str().to_owned())
        .unwrap_or_else(|_| format!("signal {number}"))
}
