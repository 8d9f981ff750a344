//! The driver-generic store factory: a [`StoreConfig`] (or a URL, `sqlite:PATH` or
//! `postgres://...`) becomes an [`AnyTaskStore`], a prepared schema, or a schema script.
//!
//! - [`driver`]: [`Driver`], and the cargo feature each needs.
//! - [`config`]: [`StoreConfig`], [`SchemaTarget`], [`IntoStoreConfig`].
//! - [`url`]: parsing store URLs, [`redact_url`].
//! - [`any`]: [`AnyTaskStore`] and [`StoreListener`].
//! - [`create`]: [`create_task_store`], [`prepare_task_store_schema`], [`task_store_schema`].
//! - [`error`]: [`StoreFactoryError`] and its [`StoreFactoryErrorKind`].

pub mod any;
pub mod config;
pub mod create;
pub mod driver;
pub mod error;
pub mod url;

pub use any::{AnyTaskStore, StoreListener};
pub use config::{IntoStoreConfig, PostgresConfig, SchemaTarget, SqliteConfig, StoreConfig};
pub use create::{PreparedSchema, create_task_store, prepare_task_store_schema, task_store_schema};
pub use driver::Driver;
pub use error::{StoreFactoryError, StoreFactoryErrorKind};
pub use url::redact_url;
