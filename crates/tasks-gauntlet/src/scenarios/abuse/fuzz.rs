//! Scenario 11, `fuzz`: the parsers of outside input, fed generated input for a bounded time.
//!
//! - Each target of [`crate::abuse_support::fuzz`] (the child-process stdout protocol, live
//!   messages, subscription queries, task queries) runs in a child process under a 2 GiB
//!   address-space limit, so a panic, a hang past the budget or an unbounded allocation is a
//!   finding, with the input kept for a rerun.
//! - Generated task queries are listed and aggregated on the store under test: answered or
//!   refused as invalid, never a backend error, and the SQL agrees with core's filter.
//! - The full run also runs the cargo-fuzz targets in `crates/tasks-gauntlet/fuzz` (libFuzzer,
//!   coverage-guided, with its own leak and allocation limits) when `cargo fuzz` is installed,
//!   and says so when it is not.

mod cargo_fuzz;

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use tasks_core::{ClaimRequest, EnqueueOptions, KindClaim, NewTask, TaskStore, Timestamp};

use crate::abuse_support::fuzz::{FuzzStats, Target, child, fuzz_store_queries};
use crate::abuse_support::runtime::Rng;
use crate::abuse_support::store::StoreUnderTest;
use crate::{Ctx, Report, Violation};

/// The child's address-space limit, in KiB (`ulimit -v`).
const ADDRESS_SPACE_KIB: u64 = 2 * 1024 * 1024;

pub(super) fn run(ctx: &Ctx) -> Result<Report, Violation> {
    let mut report = Report::new();
    let budget = if ctx.quick { Duration::from_millis(1000) } else { Duration::from_secs(30) };
    let mut rng = Rng::from_clock();
    let findings = std::env::temp_dir().join("gauntlet-fuzz-findings");
    std::fs::create_dir_all(&findings)?;
    report.say(format!(
        "fuzz: each parser fed mutated inputs for {:.1} s in a child limited to {} MiB of \
         address space; generated task queries against the store",
        budget.as_secs_f64(),
        ADDRESS_SPACE_KIB / 1024
    ));
    for target in Target::ALL {
        let seed = rng.next_u64();
        let artifact = findings.join(format!("{}-{seed}.bin", target.name()));
        let stats = run_child(target, budget, seed, &artifact)?;
        report.figure(&format!("fuzz {}", target.name()), describe(&stats));
    }
    let store = StoreUnderTest::new(ctx)?;
    let handle = store.open(4)?;
    seed_tasks(&*handle)?;
    let stats = fuzz_store_queries(&*handle, budget, rng.next_u64());
    if let Some(finding) = &stats.finding {
        return Err(Violation(format!("fuzz task queries on {}: {finding}", ctx.store)));
    }
    report.figure("fuzz task queries on the store", describe(&stats));
    let numbers = exact_numbers(&*handle, &mut rng)?;
    report.figure("numbers stored and read back exactly", numbers);
    if !ctx.quick {
        cargo_fuzz::run(&mut report)?;
    }
    Ok(report)
}

fn describe(stats: &FuzzStats) -> String {
    let seconds = (stats.elapsed_ms as f64 / 1000.0).max(0.001);
    format!(
        "{} inputs in {seconds:.1} s ({:.0}/s), {} taken, largest {} bytes, slowest {:.1} ms, no \
         finding",
        stats.inputs,
        stats.inputs as f64 / seconds,
        stats.accepted,
        stats.largest_input,
        stats.slowest_input_us as f64 / 1000.0
    )
}

/// Runs the fuzzing child for one target; its figures, or the finding as a violation.
fn run_child(
    target: Target,
    budget: Duration,
    seed: u64,
    artifact: &std::path::Path,
) -> Result<FuzzStats, Violation> {
    let (program, first) = child::program()?;
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""))
        .arg(&program)
        .args(first)
        .args([target.name(), &budget.as_millis().to_string(), &seed.to_string()])
        .arg(artifact)
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stats = stdout.lines().last().and_then(|line| serde_json::from_str::<FuzzStats>(line).ok());
    match (output.status.success(), stats) {
        (true, Some(stats)) => Ok(stats),
        (false, Some(stats)) if stats.finding.is_some() => Err(Violation(format!(
            "fuzz {} (seed {seed}): {}; the input is in {}",
            target.name(),
            stats.finding.unwrap_or_default(),
            artifact.display()
        ))),
        (_, _) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: String =
                stderr.chars().rev().take(2000).collect::<Vec<_>>().into_iter().rev().collect();
            Err(Violation(format!(
                "fuzz {} (seed {seed}): the child died ({}) without figures, an unbounded \
                 allocation or a crash: {tail}",
                target.name(),
                output.status
            )))
        }
    }
}

/// Random finite numbers (any bit pattern) and the percents a task computes, in a task's
/// input: read back from the store, every one is the very number written (one ulp off would
/// break the promise that a stored input is what was enqueued). Returns how many were checked.
fn exact_numbers(store: &dyn TaskStore, rng: &mut Rng) -> Result<usize, Violation> {
    let mut numbers: Vec<f64> = (0..2000)
        .map(|_| f64::from_bits(rng.next_u64()))
        .filter(|number| number.is_finite())
        .collect();
    numbers.extend(
        (1..100u32).flat_map(|total| {
            (0..=total).map(move |done| f64::from(done) * 100.0 / f64::from(total))
        }),
    );
    for chunk in numbers.chunks(4000) {
        let input = json!({ "numbers": chunk });
        let task =
            store.enqueue(NewTask::new("numbers", input.clone()), Timestamp::now_utc())?.task;
        let stored = store.get(&task.id)?.map(|record| record.input);
        if stored.as_ref() != Some(&input) {
            let wrong = stored
                .as_ref()
                .and_then(|stored| stored.get("numbers")?.as_array().cloned())
                .unwrap_or_default()
                .into_iter()
                .zip(chunk)
                .find(|(back, written)| back.as_f64() != Some(**written));
            return Err(Violation(format!(
                "fuzz: a number came back from the store changed (written, read): {wrong:?}"
            )));
        }
    }
    Ok(numbers.len())
}

/// A few tasks in several states, so generated filters have something to match.
fn seed_tasks(store: &dyn TaskStore) -> Result<(), Violation> {
    let now = Timestamp::now_utc();
    for (n, kind) in ["a", "b.c", "a", "report.generate", "b.c", "a"].into_iter().enumerate() {
        let mut options = EnqueueOptions::new().channel(format!("scope:{}", n % 3));
        if n % 2 == 0 {
            options = options.dedupe_key(format!("key-{n}")).concurrency_key("k");
        }
        store.enqueue(NewTask::new(kind, json!({ "n": n })).with_options(options), now)?;
    }
    let request = ClaimRequest::new("fuzz-seed", 2, Duration::from_secs(3600))
        .kinds(vec![KindClaim::any("b.c")]);
    for record in store.claim(&request, now)? {
        if let Some(lease) = record.lease() {
            store.start(&lease, now)?;
        }
    }
    Ok(())
}
