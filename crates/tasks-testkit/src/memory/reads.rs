//! Reads of the memory store: get, list, aggregate and steps, by filtering and sorting in
//! memory exactly as the `TaskFilter`, `TaskOrder` and `StepQuery` docs say.

use tasks_core::limits::validate_page_limit;
use tasks_core::{
    StepQuery, StepRecord, StoreError, TaskAggregate, TaskFilter, TaskId, TaskListQuery, TaskRecord,
};

use super::State;

impl State {
    pub(super) fn list(&self, query: &TaskListQuery) -> Result<Vec<TaskRecord>, StoreError> {
        let (filter, limit) = query.normalized()?;
        let mut matching: Vec<&TaskRecord> =
            self.tasks.values().filter(|record| filter.matches(record)).collect();
        matching.sort_by(|a, b| query.order.compare(a, b));
        let offset = query.offset.unwrap_or(0) as usize;
        Ok(matching.into_iter().skip(offset).take(limit as usize).cloned().collect())
    }

    pub(super) fn aggregate(&self, filter: &TaskFilter) -> Result<TaskAggregate, StoreError> {
        let filter = filter.normalized()?;
        Ok(TaskAggregate::from_records(self.tasks.values().filter(|record| filter.matches(record))))
    }

    pub(super) fn list_steps(
        &self,
        id: &TaskId,
        query: &StepQuery,
    ) -> Result<Vec<StepRecord>, StoreError> {
        let limit = validate_page_limit("limit", query.limit)? as usize;
        if !self.tasks.contains_key(id) {
            return Err(StoreError::NotFound { id: id.clone() });
        }
        let after = query.after_seq.unwrap_or(0);
        let steps = self.steps.get(id).map(Vec::as_slice).unwrap_or_default();
        let newer: Vec<&StepRecord> = steps.iter().filter(|step| step.seq > after).collect();
        let skip = if query.latest { newer.len().saturating_sub(limit) } else { 0 };
        Ok(newer.into_iter().skip(skip).take(limit).cloned().collect())
    }
}
