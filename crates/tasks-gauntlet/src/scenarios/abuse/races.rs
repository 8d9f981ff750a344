//! Scenario 6, `races`: the store's cross-process invariants under contention.
//!
//! - `dedupe`: 32 callers on separate connections enqueue the same kind and dedupe key at the
//!   same instant, round after round: exactly one task is created, the 31 others get it back.
//! - `supersede`: a task is superseded while it runs, at random moments around its end, by a
//!   caller on its own host or on another connection: the superseding enqueue lists it exactly
//!   when it was still open, and it ends cancelled (or succeeded, when its output won).
//! - `churn`: several hosts on separate connections run tasks sharing a few concurrency keys
//!   and a kind capped store-wide, while tasks are enqueued and cancelled at random. An
//!   independent SQL probe samples the tables all along: never two claimed-or-running tasks
//!   on one key, never more than the cap.

mod churn;
mod dedupe;
mod supersede;

use crate::abuse_support::store::StoreUnderTest;
use crate::{Ctx, Report, Violation};

/// Runs the three races on `ctx.store`.
pub(super) fn run(ctx: &Ctx) -> Result<Report, Violation> {
    let mut report = Report::new();
    let store = StoreUnderTest::new(ctx)?;
    let sizes = Sizes::of(ctx.quick);
    dedupe::run(&store, sizes.dedupe_rounds, &mut report)?;
    supersede::run(&store, sizes.supersede_rounds, &mut report)?;
    churn::run(&store, sizes.churn_tasks, &mut report)?;
    Ok(report)
}

/// How much of each race a run does.
struct Sizes {
    dedupe_rounds: u32,
    supersede_rounds: u32,
    churn_tasks: u32,
}

impl Sizes {
    fn of(quick: bool) -> Self {
        if quick {
            Sizes { dedupe_rounds: 10, supersede_rounds: 16, churn_tasks: 160 }
        } else {
            Sizes { dedupe_rounds: 300, supersede_rounds: 300, churn_tasks: 3000 }
        }
    }
}
