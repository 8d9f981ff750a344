//! The cargo-fuzz targets in `crates/tasks-gauntlet/fuzz` (outside the workspace), run by the
//! full `fuzz` scenario for a bounded time each: libFuzzer, coverage-guided, under
//! AddressSanitizer, with `-rss_limit_mb` and `-malloc_limit_mb` so an unbounded allocation is
//! a crash. cargo-fuzz needs nightly compiler flags; `RUSTC_BOOTSTRAP=1` lets the stable
//! toolchain take them. Without `cargo fuzz` installed the scenario says so and goes on: the
//! in-process fuzzer covered the same targets.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::abuse_support::fuzz::{Target, seed_corpus};
use crate::{Report, Violation};

/// Seconds per target, unless `TASKS_GAUNTLET_CARGO_FUZZ_SECONDS` says otherwise.
const DEFAULT_SECONDS: u64 = 60;

/// Set once the targets ran in this process: they do not depend on the store, so the run for
/// the second store skips them.
static RAN: AtomicBool = AtomicBool::new(false);

pub(super) fn run(report: &mut Report) -> Result<(), Violation> {
    if RAN.load(Ordering::SeqCst) {
        report.say("cargo-fuzz: the targets ran with the previous store (they use none)");
        return Ok(());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    if !dir.join("Cargo.toml").is_file() {
        report.say(format!("cargo-fuzz: not run, no fuzz crate at {}", dir.display()));
        return Ok(());
    }
    let installed = Command::new("cargo").args(["fuzz", "--version"]).output();
    if !installed.is_ok_and(|output| output.status.success()) {
        report.say(
            "cargo-fuzz: not run, `cargo fuzz` is not installed here (`cargo install \
             cargo-fuzz`); the in-process fuzzer above covered the same targets",
        );
        return Ok(());
    }
    let seconds = std::env::var("TASKS_GAUNTLET_CARGO_FUZZ_SECONDS")
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .unwrap_or(DEFAULT_SECONDS);
    // Set only once the targets run: a run that found no `cargo fuzz` says so every time.
    RAN.store(true, Ordering::SeqCst);
    for target in Target::ALL {
        let corpus = seed(&dir, target)?;
        let started = Instant::now();
        let output = Command::new("cargo")
            .current_dir(&dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", target.name()])
            .arg(&corpus)
            .args([
                "--",
                &format!("-max_total_time={seconds}"),
                "-rss_limit_mb=2048",
                "-malloc_limit_mb=512",
                "-timeout=10",
                "-max_len=262144",
            ])
            .output()?;
        let took = started.elapsed().as_secs_f64();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(Violation(format!(
                "cargo-fuzz {} failed ({}); artifacts in {}: {}",
                target.name(),
                output.status,
                dir.join("artifacts").join(target.name()).display(),
                tail.join("\n")
            )));
        }
        let runs = stderr
            .lines()
            .rev()
            .find_map(|line| {
                line.strip_prefix("Done ")?.split_whitespace().next()?.parse::<u64>().ok()
            })
            .unwrap_or(0);
        report.figure(
            &format!("cargo-fuzz {}", target.name()),
            format!("{runs} runs in {seconds} s ({took:.0} s with the build), no crash, no leak"),
        );
    }
    Ok(())
}

/// The target's corpus directory, holding the seed inputs.
fn seed(dir: &Path, target: Target) -> Result<PathBuf, Violation> {
    let corpus = dir.join("corpus").join(target.name());
    std::fs::create_dir_all(&corpus)?;
    for (index, input) in seed_corpus(target).iter().enumerate() {
        let path = corpus.join(format!("seed-{index}"));
        if !path.exists() {
            std::fs::write(path, input)?;
        }
    }
    Ok(corpus)
}
