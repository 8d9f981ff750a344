#![doc = include_str!("../README.md")]
//!
//! # Map
//!
//! - [`hub`]: [`TaskLiveHub`] (the spec's `createTaskLiveHub`), [`Subscription`],
//!   [`SubscribeOptions`], [`FeedWaker`]; [`source`]: [`LiveSource`] and [`HubOptions`].
//! - [`tracker`]: [`TaskLiveTracker`] (the spec's `createTaskLiveTracker`): applies a
//!   bootstrap and then events, keeps the newest snapshot of every task (by revision, so
//!   nothing regresses), accumulates steps by `seq` without duplicates, recomputes the
//!   aggregate from what it holds, and tells change listeners. Pure: no runtime, no I/O.
//! - [`update`]: [`LiveUpdate`], a message with its resume cursor; [`entries`]: the spec's
//!   event-entry normalizers and adapters; [`error`]: [`LiveError`].
//! - Features: `hub` (default) brings the hub and everything that runs on tokio; without it
//!   the crate is [`tracker`], [`update`] and [`entries`] alone.
//! - `http` (feature `http`): the SSE and WebSocket bridge on axum, with the browser module
//!   `tasks-live.js`; `socketio` (feature `socketio`): the Socket.IO bridge.
//! - Inside: the change-feed follower (`feed`), the naming of events read back from the store
//!   (`naming`), the hub's state (`state`, `known`), each subscriber's delivery rules and its
//!   record of what its tracker holds (`subscriber`, `filter`, `held`), and the
//!   blocking-thread store caller (`blocking`).
//!
//! # Architecture invariants
//!
//! - The hub depends on no store crate: it reads any `TaskStore` through the trait.
//! - Every store call runs on tokio's blocking pool, never on a runtime worker.
//! - A subscriber is registered before its bootstrap is read; every update reaches it in
//!   revision order per task, each revision once (per hub).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "hub")]
mod blocking;
pub mod entries;
#[cfg(feature = "hub")]
pub mod error;
#[cfg(feature = "hub")]
mod feed;
#[cfg(feature = "hub")]
mod filter;
#[cfg(feature = "hub")]
mod held;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "hub")]
pub mod hub;
#[cfg(feature = "hub")]
mod known;
#[cfg(feature = "hub")]
mod naming;
#[cfg(feature = "socketio")]
pub mod socketio;
#[cfg(feature = "hub")]
pub mod source;
#[cfg(feature = "hub")]
mod state;
#[cfg(feature = "hub")]
mod subscriber;
pub mod tracker;
pub mod update;

#[cfg(feature = "hub")]
pub use blocking::StoreHandle;
#[cfg(feature = "hub")]
pub use error::{LiveError, LiveErrorKind};
#[cfg(feature = "hub")]
pub use hub::{FeedWaker, SubscribeOptions, Subscription, TaskLiveHub};
#[cfg(feature = "hub")]
pub use source::{HubOptions, LiveSource};
pub use tracker::{TaskLiveTracker, TrackerState};
pub use update::LiveUpdate;
