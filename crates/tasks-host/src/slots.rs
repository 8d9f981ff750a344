//! [`Slots`]: how many executions this host runs, in all and per kind, against its limits. The
//! claim loop asks for exactly the free slots; an attempt gives its slot back when its
//! execution ends, before its final write (the host's state counts attempts until that write,
//! from the attempts it knows).

use std::collections::HashMap;

/// Executions running on this host, in all and per kind.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    active: u32,
    by_kind: HashMap<String, u32>,
}

impl Slots {
    /// Free slots out of `limit`.
    pub(crate) fn free(&self, limit: u32) -> u32 {
        limit.saturating_sub(self.active)
    }

    /// Executions of `kind` running.
    pub(crate) fn active_of(&self, kind: &str) -> u32 {
        self.by_kind.get(kind).copied().unwrap_or(0)
    }

    pub(crate) fn acquire(&mut self, kind: &str) {
        self.active += 1;
        match self.by_kind.get_mut(kind) {
            Some(count) => *count += 1,
            None => {
                self.by_kind.insert(kind.to_owned(), 1);
            }
        }
    }

    pub(crate) fn release(&mut self, kind: &str) {
        self.active = self.active.saturating_sub(1);
        if let Some(count) = self.by_kind.get_mut(kind) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.by_kind.remove(kind);
            }
        }
    }
}
