//! Scenario 10, `bad-input`: hostile input is refused with typed errors and changes nothing
//! stored.
//!
//! The store is seeded (a queued task, a running one, a finished one with steps) and dumped
//! whole by the independent probe. Then come refused enqueues (oversized and deeply nested
//! JSON, huge channel lists, hostile kinds and keys, bad options, a bad task inside a batch),
//! refused worker writes on the running task, refused reads (bad filters, limits, cursors, a
//! live subscription with a huge channel list) and hostile store names (PostgreSQL schemas and
//! table prefixes, SQLite paths). Each must fail with the expected typed error, and the dump
//! afterwards must equal the dump before, row for row.
//!
//! Then, through a real host: a child process writing invalid UTF-8, NUL bytes and a deeply
//! nested result line on its stdout (the task ends cleanly, what is stored is valid, and no
//! good line is lost to a bad one), and tasks of kinds no host handles (kept queued,
//! untouched, while other work runs).

mod child;
mod enqueues;
mod names;
mod reads;
mod unknown;
mod writes;

use std::time::Duration;

use serde_json::json;
use tasks_core::{
    ClaimRequest, EnqueueOptions, KindClaim, Lease, NewStep, NewTask, StoreError, TaskStore,
    Timestamp,
};

use crate::abuse_support::probe::dump_difference;
use crate::abuse_support::store::StoreUnderTest;
use crate::{Ctx, Report, Violation, ensure};

/// Checks that `result` is a refusal for which `right` holds; counts it.
pub(super) fn refused<T: std::fmt::Debug>(
    tally: &mut u32,
    what: &str,
    result: Result<T, StoreError>,
    right: impl Fn(&StoreError) -> bool,
) -> Result<(), Violation> {
    match result {
        Err(error) if right(&error) => {
            *tally += 1;
            Ok(())
        }
        Err(error) => Err(Violation(format!("{what}: refused with the wrong error: {error:?}"))),
        Ok(value) => {
            let shown: String = format!("{value:?}").chars().take(200).collect();
            Err(Violation(format!("{what}: accepted: {shown}")))
        }
    }
}

/// The seeded store: a running task's lease, for refused worker writes.
pub(super) struct Seeded {
    pub(super) running: Lease,
}

pub(super) fn run(ctx: &Ctx) -> Result<Report, Violation> {
    let mut report = Report::new();
    let store = StoreUnderTest::new(ctx)?;
    let handle = store.open(4)?;
    let seeded = seed(&*handle)?;
    let mut probe = store.probe()?;
    let before = probe.dump()?;
    // A big stack: the deeply nested documents below are built and dropped here, and dropping
    // one recurses (the store's own checks do not).
    let quick = ctx.quick;
    let checked = std::thread::Builder::new()
        .name("bad-input".into())
        .stack_size(256 * 1024 * 1024)
        .spawn({
            let handle = std::sync::Arc::clone(&handle);
            move || -> Result<Vec<(&'static str, u32, Duration)>, Violation> {
                Ok(vec![
                    timed("enqueues", || enqueues::check(&*handle, quick))?,
                    timed("worker writes", || writes::check(&*handle, &seeded))?,
                    timed("reads", || reads::check(&handle))?,
                ])
            }
        })?
        .join()
        .map_err(|_| Violation("bad-input: the checking thread panicked".into()))??;
    let named = timed("store names", || names::check(&store))?;
    let after = probe.dump()?;
    ensure!(
        before == after,
        "bad-input: refused input changed what is stored: {}",
        dump_difference(&before, &after)
    );
    report.say(format!(
        "bad-input: refused input against a seeded store ({} rows in {} tables, dumped before \
         and after)",
        before.len(),
        tables(&before)
    ));
    for (group, count, took) in checked.into_iter().chain(std::iter::once(named)) {
        report.figure(
            &format!("refused {group}"),
            format!("{count} cases, typed errors, in {:.0} ms", took.as_secs_f64() * 1000.0),
        );
    }
    report.figure("rows changed by refused input", 0);
    child::check(&store, &mut report)?;
    unknown::check(&store, &mut report)?;
    Ok(report)
}

fn timed(
    group: &'static str,
    check: impl FnOnce() -> Result<u32, Violation>,
) -> Result<(&'static str, u32, Duration), Violation> {
    let started = std::time::Instant::now();
    let count = check()?;
    Ok((group, count, started.elapsed()))
}

fn tables(dump: &[String]) -> usize {
    let mut names: Vec<&str> = dump.iter().filter_map(|line| line.split(':').next()).collect();
    names.dedup();
    names.len()
}

/// A queued task, a running one (its lease is returned) and a finished one with steps.
fn seed(store: &dyn TaskStore) -> Result<Seeded, Violation> {
    let now = Timestamp::now_utc();
    let options = EnqueueOptions::new()
        .channel("scope:seed")
        .dedupe_key("seed-dedupe")
        .concurrency_key("seed-key");
    store.enqueue(NewTask::new("seed.queued", json!({ "n": 1 })).with_options(options), now)?;
    store.enqueue(NewTask::new("seed.running", json!({ "n": 2 })), now)?;
    store.enqueue(NewTask::new("seed.done", json!({ "n": 3 })), now)?;
    let claim = |kind: &str| -> Result<Lease, Violation> {
        let request = ClaimRequest::new("bad-input-worker", 1, Duration::from_secs(3600))
            .kinds(vec![KindClaim::any(kind)]);
        let claimed = store.claim(&request, Timestamp::now_utc())?;
        let lease = claimed.first().and_then(|record| record.lease());
        lease.ok_or_else(|| Violation(format!("bad-input: could not claim the seeded {kind}")))
    };
    let done = claim("seed.done")?;
    store.start(&done, Timestamp::now_utc())?;
    let steps = [NewStep::info("one"), NewStep::info("two").percent(50.0)];
    store.append_steps(&done, &steps, Timestamp::now_utc())?;
    store.complete(&done, json!({ "ok": true }), Timestamp::now_utc())?;
    let running = claim("seed.running")?;
    store.start(&running, Timestamp::now_utc())?;
    Ok(Seeded { running })
}
