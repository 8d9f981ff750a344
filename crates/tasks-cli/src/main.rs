//! The `tasks` command. A skeleton until the CLI issue lands: it prints what it will become.

fn main() {
    eprintln!("tasks {}: the command line arrives with the CLI issue", env!("CARGO_PKG_VERSION"));
    std::process::exit(2);
}
