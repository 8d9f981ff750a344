#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod batch;
mod changes;
mod checkpoint;
mod claim;
mod enqueue;
mod error;
mod filter;
mod insert;
mod maintenance;
mod open;
mod options;
mod reads;
mod recent;
mod row;
mod schema;
mod sql_text;
mod store;
mod tx;
mod update;
mod writes;

pub use error::{OpenError, OpenErrorKind};
pub use open::{SchemaReport, prepare_schema};
pub use options::{Durability, SqliteOptions};
pub use schema::{SCHEMA_VERSION, schema_sql};
pub use store::SqliteTaskStore;
