//! Tidy checks, run as ordinary tests: every Rust file opens with a `//!` doc, and no
//! placeholder (`todo!`, `unimplemented!`, `dbg!`) or ignored test is left in the tree.

use std::fs;
use std::path::{Path, PathBuf};

use crate::run::workspace_root;

fn rust_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !name.starts_with('.') && !name.starts_with("target") {
                    walk(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&workspace_root().join("crates"), &mut files);
    walk(&workspace_root().join("xtask"), &mut files);
    files
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let missing: Vec<String> = rust_files()
        .into_iter()
        .filter(|path| {
            let text = fs::read_to_string(path).unwrap_or_default();
            let first = text.lines().find(|line| !line.trim().is_empty()).unwrap_or("");
            !(first.starts_with("//!") || first.starts_with("#![doc"))
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a //! doc: {missing:#?}");
}

#[test]
fn no_placeholders_or_ignored_tests() {
    // Spelled in pieces so this file does not match itself.
    let banned = [
        ["todo", "!("].concat(),
        ["unimplemented", "!("].concat(),
        ["dbg", "!("].concat(),
        ["#[", "ignore"].concat(),
    ];
    let mut hits = Vec::new();
    for path in rust_files() {
        let text = fs::read_to_string(&path).unwrap_or_default();
        for (number, line) in text.lines().enumerate() {
            if banned.iter().any(|word| line.contains(word.as_str())) {
                hits.push(format!("{}:{}: {}", path.display(), number + 1, line.trim()));
            }
        }
    }
    assert!(hits.is_empty(), "placeholders left in the tree: {hits:#?}");
}
