//! The memory store's change feed: an in-memory log whose cursor is the absolute position
//! after an entry. It keeps the most recent [`MAX_CHANGES`] entries; older cursors expire.

use std::collections::VecDeque;

use tasks_core::{Change, ChangeCursor, ChangeKind, ChangePage, StoreError, TaskId};

/// How many changes the log keeps.
pub(crate) const MAX_CHANGES: usize = 100_000;

#[derive(Debug, Default)]
pub(crate) struct ChangeLog {
    /// The absolute position of the first kept entry.
    base: u64,
    entries: VecDeque<(TaskId, u64, ChangeKind)>,
}

impl ChangeLog {
    pub(crate) fn push(&mut self, id: &TaskId, revision: u64, kind: ChangeKind) {
        self.entries.push_back((id.clone(), revision, kind));
        if self.entries.len() > MAX_CHANGES {
            self.entries.pop_front();
            self.base += 1;
        }
    }

    fn end(&self) -> u64 {
        self.base + self.entries.len() as u64
    }

    pub(crate) fn cursor(&self) -> ChangeCursor {
        ChangeCursor::new(self.end().to_string())
    }

    pub(crate) fn read(
        &self,
        after: Option<&ChangeCursor>,
        limit: u32,
    ) -> Result<ChangePage, StoreError> {
        let start = match after {
            None => self.base,
            Some(cursor) => {
                let expired = || StoreError::CursorExpired { cursor: cursor.to_string() };
                let position: u64 = cursor.as_str().parse().map_err(|_| expired())?;
                if position < self.base || position > self.end() {
                    return Err(expired());
                }
                position
            }
        };
        let skip = usize::try_from(start - self.base).unwrap_or(usize::MAX);
        let changes: Vec<Change> = self
            .entries
            .iter()
            .enumerate()
            .skip(skip)
            .take(limit as usize)
            .map(|(index, (task_id, revision, kind))| Change {
                cursor: ChangeCursor::new((self.base + index as u64 + 1).to_string()),
                task_id: task_id.clone(),
                revision: *revision,
                kind: *kind,
            })
            .collect();
        let next = changes
            .last()
            .map_or_else(|| ChangeCursor::new(start.to_string()), |change| change.cursor.clone());
        Ok(ChangePage { changes, next })
    }
}
