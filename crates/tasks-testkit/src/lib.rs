#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod fixture;
pub mod memory;
pub mod model;
pub mod suite;

pub use fixture::{StoreFixture, WithGuard};
pub use memory::MemoryStore;

/// The workspace README's examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct WorkspaceReadmeDoctests;
