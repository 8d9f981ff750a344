//! cargo-fuzz target: a child's stdout, read by the process executor (see `tasks_gauntlet::abuse_support::fuzz`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tasks_gauntlet::abuse_support::fuzz::{Target, check};

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = check(Target::ProcessStdout, data) {
        panic!("{broken}");
    }
});
