//! cargo-fuzz target: a live message, decoded and applied to a tracker (see `tasks_gauntlet::abuse_support::fuzz`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tasks_gauntlet::abuse_support::fuzz::{Target, check};

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = check(Target::LiveMessage, data) {
        panic!("{broken}");
    }
});
