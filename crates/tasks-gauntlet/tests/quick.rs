//! The gauntlet's own plumbing. Each scenario's quick variant has its own test, in
//! `quick_faults.rs` and `quick_abuse.rs`, through [`tasks_gauntlet::run_quick`].

use tasks_gauntlet::{run_quick, scenarios};

#[test]
fn scenario_names_are_unique_and_kebab_case() {
    let all = scenarios::all();
    let mut names: Vec<&str> = all.iter().map(|scenario| scenario.name).collect();
    for name in &names {
        assert!(
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{name:?} is not kebab-case"
        );
    }
    names.sort_unstable();
    let count = names.len();
    names.dedup();
    assert_eq!(names.len(), count, "two scenarios share a name");
}

#[test]
fn an_unknown_scenario_is_refused_by_name() {
    let error = run_quick("no-such-scenario").expect_err("unknown name");
    assert!(error.contains("no-such-scenario"), "{error}");
}
