#![doc = include_str!("../README.md")]
//!
//! # Map
//!
//! - [`router`], [`serve`] and [`Dashboard`] (in `app`): the hub over a store and the router
//!   of the page, its assets, the JSON API and the live bridge; [`options`]:
//!   [`DashboardOptions`]; [`error`]: [`DashboardError`].
//! - [`api`]: the JSON endpoints and their typed errors ([`api::ApiError`]).
//! - [`assets`]: the page, its script and styles, embedded with `include_str!`.
//! - Inside: the security guard (`security`: token, host and origin checks) and shutdown of
//!   live streams (`serve`). Store calls go through tasks-live's `StoreHandle`, which keeps
//!   them on a blocking thread.
//!
//! # Architecture invariants
//!
//! - The dashboard runs no workers and depends on no store crate: it reads and writes through
//!   `TaskStore` like any caller, so SQLite, PostgreSQL and the memory store all work.
//! - Every store call runs on tokio's blocking pool, never on a runtime worker.
//! - Every request passes the security guard before any route.
//! - The page renders task data with `textContent` only, never as HTML.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
mod app;
pub mod assets;
pub mod error;
pub mod options;
mod security;
mod serve;

use std::sync::Arc;

use tasks_core::TaskStore;

pub use app::Dashboard;
pub use error::{DashboardError, DashboardErrorKind};
pub use options::DashboardOptions;
pub use serve::serve;

/// The dashboard's router over `store`: the page at `/`, the JSON API at `/api`, the live
/// bridge at `/live`. Call it inside a tokio runtime (the live hub starts on it).
///
/// # Errors
///
/// As [`Dashboard::new`].
pub fn router(
    store: Arc<dyn TaskStore>,
    options: DashboardOptions,
) -> Result<axum::Router, DashboardError> {
    Ok(Dashboard::new(store, options)?.into_router())
}
