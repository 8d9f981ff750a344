//! cargo-fuzz target: a task list query in JSON (see `tasks_gauntlet::abuse_support::fuzz`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tasks_gauntlet::abuse_support::fuzz::{Target, check};

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = check(Target::TaskQuery, data) {
        panic!("{broken}");
    }
});
