//! The quick variant of each abuse scenario (races, a full disk, floods, bad input, fuzzing),
//! one test each, on every store the scenario applies to; each prints its report. `cargo
//! xtask gauntlet` runs the full variants.

use tasks_gauntlet::run_quick;

fn quick(name: &str) {
    if let Err(violations) = run_quick(name) {
        panic!("{violations}");
    }
}

#[test]
fn races() {
    quick("races");
}

#[test]
fn disk_full() {
    quick("disk-full");
}

#[test]
fn floods() {
    quick("floods");
}

#[test]
fn bad_input() {
    quick("bad-input");
}

#[test]
fn fuzz() {
    quick("fuzz");
}
