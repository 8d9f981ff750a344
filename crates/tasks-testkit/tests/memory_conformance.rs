//! The whole conformance suite against the reference [`tasks_testkit::MemoryStore`], directly
//! and behind `Arc<dyn TaskStore>`. This file is also the proof that
//! `store_conformance!` works from another crate, as a third party would call it.

tasks_testkit::store_conformance!(tasks_testkit::MemoryStore::new);

/// The same suite through a shared trait object, the way the host holds its store.
mod as_arc_dyn {
    tasks_testkit::store_conformance!(|| -> std::sync::Arc<dyn tasks_core::TaskStore> {
        std::sync::Arc::new(tasks_testkit::MemoryStore::new())
    });
}

/// Every behaviour has a test above: the table and the macro come from one list, and that
/// list names every public behaviour function of `src/suite` (so a new behaviour cannot be
/// forgotten in it) and nothing else.
#[test]
fn the_list_names_every_behaviour_once() {
    let listed: Vec<&str> =
        tasks_testkit::suite::BEHAVIOURS.iter().map(|(name, _)| *name).collect();
    let unique: std::collections::BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(unique.len(), listed.len(), "names are unique");
    assert!(unique.len() >= 45, "the suite has {} behaviours", unique.len());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/suite");
    let mut defined = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("src/suite is readable") {
        let path = entry.expect("a directory entry").path();
        let text = std::fs::read_to_string(&path).expect("a suite file is readable");
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("pub fn ")
                && let Some((name, args)) = rest.split_once('(')
                && args.starts_with("store: &dyn TaskStore)")
            {
                defined.insert(name.to_owned());
            }
        }
    }
    let unique: std::collections::BTreeSet<String> =
        unique.iter().map(|n| (*n).to_owned()).collect();
    assert_eq!(defined, unique, "src/suite's public behaviours and the list differ");
}
