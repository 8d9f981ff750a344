#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod fixture;
pub mod memory;
pub mod model;
pub mod suite;

pub use fixture::{StoreFixture, WithGuard};
pub use memory::MemoryStore;
