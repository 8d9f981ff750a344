//! What `tasks demo` runs: sample kinds ([`kinds`]: in-process Rust handlers and a
//! child-process shell script), the batch it enqueues ([`batch`]: with a dedupe and a
//! supersede to show), and the summary it ends with ([`summary`]).

pub(crate) mod batch;
pub(crate) mod kinds;
pub(crate) mod summary;
