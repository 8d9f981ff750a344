//! cargo-fuzz target: a subscription query string or JSON body (see `tasks_gauntlet::abuse_support::fuzz`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tasks_gauntlet::abuse_support::fuzz::{Target, check};

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = check(Target::SubscriptionQuery, data) {
        panic!("{broken}");
    }
});
