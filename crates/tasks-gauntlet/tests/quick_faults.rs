//! The quick variants of the fault scenarios (processes killed, frozen, cut off from their
//! database, a database restarted or held back), one test each, on every store each applies
//! to. The full variants run through `cargo xtask gauntlet`.

use tasks_gauntlet::run_quick;

fn quick(name: &str) {
    if let Err(failures) = run_quick(name) {
        panic!("{failures}");
    }
}

#[test]
fn history() {
    quick("history");
}

#[test]
fn sigkill() {
    quick("sigkill");
}

#[test]
fn fencing() {
    quick("fencing");
}

#[test]
fn pg_restart() {
    quick("pg-restart");
}

#[test]
fn net_stall() {
    quick("net-stall");
}

#[test]
fn long_transaction() {
    quick("long-transaction");
}
