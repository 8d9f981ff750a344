//! [`StepBudget`]: how many steps one attempt may queue, so a task that floods its log cannot
//! flood the store or the host's memory.
//!
//! A token bucket per attempt: it holds up to `step_burst` steps and refills at
//! `max_steps_per_second`. A step is taken when a token is left and fewer than `step_burst`
//! steps wait for their write (the store is keeping up); otherwise it is dropped and counted,
//! and the next batch written ends with one `warn` step saying how many were dropped.

use serde_json::json;
use tasks_core::{NewStep, StepKind, StepLevel};
use tokio::time::Instant;

use crate::options::RunnerOptions;

/// The step cap of one attempt.
#[derive(Debug)]
pub(crate) struct StepBudget {
    per_second: Option<u32>,
    burst: u32,
    tokens: f64,
    refilled: Instant,
}

impl StepBudget {
    pub(crate) fn new(options: &RunnerOptions, now: Instant) -> Self {
        StepBudget {
            per_second: options.max_steps_per_second,
            burst: options.step_burst,
            tokens: f64::from(options.step_burst),
            refilled: now,
        }
    }

    /// Whether one more step may be queued at `now` while `waiting` steps wait for their
    /// write.
    pub(crate) fn admit(&mut self, waiting: usize, now: Instant) -> bool {
        let Some(per_second) = self.per_second else { return true };
        if waiting >= self.burst as usize {
            return false;
        }
        let elapsed = now.saturating_duration_since(self.refilled);
        self.refilled = now;
        let refill = elapsed.as_secs_f64() * f64::from(per_second);
        self.tokens = (self.tokens + refill).min(f64::from(self.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The step that says `dropped` steps were left out, written after the steps that were kept.
pub(crate) fn dropped_note(dropped: u64, options: &RunnerOptions) -> NewStep {
    let limit = options.max_steps_per_second.unwrap_or(0);
    let message = format!(
        "{dropped} steps were dropped: over this host's limit of {limit} steps per second (burst \
         {}) for one attempt",
        options.step_burst
    );
    let meta = json!({ "droppedSteps": dropped, "maxStepsPerSecond": limit, "stepBurst": options.step_burst });
    let step = NewStep::info(message).kind(StepKind::Log).level(StepLevel::Warn);
    match meta {
        serde_json::Value::Object(meta) => step.meta(meta),
        _ => step,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let options = RunnerOptions::default().max_steps_per_second(Some(10)).step_burst(5);
        let start = Instant::now();
        let mut budget = StepBudget::new(&options, start);
        assert_eq!((0..8).filter(|_| budget.admit(0, start)).count(), 5, "the burst");
        let later = start + Duration::from_millis(250);
        assert_eq!((0..8).filter(|_| budget.admit(0, later)).count(), 2, "10 a second for 0.25 s");
        let much_later = later + Duration::from_secs(60);
        let taken = (0..8).filter(|_| budget.admit(0, much_later)).count();
        assert_eq!(taken, 5, "never more than the burst");
    }

    #[test]
    fn a_backlog_stops_the_intake_and_no_limit_takes_all() {
        let options = RunnerOptions::default().max_steps_per_second(Some(1000)).step_burst(5);
        let now = Instant::now();
        let mut budget = StepBudget::new(&options, now);
        assert!(!budget.admit(5, now), "five steps already wait");
        assert!(budget.admit(4, now));
        let unlimited = RunnerOptions::default().max_steps_per_second(None);
        let mut unlimited = StepBudget::new(&unlimited, now);
        assert!((0..100_000).all(|_| unlimited.admit(1_000_000, now)));
        let note = dropped_note(7, &options);
        assert_eq!(note.level, StepLevel::Warn);
        assert_eq!(note.meta.and_then(|meta| meta.get("droppedSteps").cloned()), Some(json!(7)));
    }
}
