//! [`Dashboard`]: the live hub over a store, and the router that serves the page, its
//! assets, the JSON API and the live bridge behind the security guard.
//!
//! Routes (relative, so the router may be nested under a prefix):
//!
//! - `/`: the page; `/assets/dashboard.js`, `/assets/dashboard.css`: its files.
//! - `/api/...`: the JSON API ([`crate::api`]).
//! - `/live/events` (SSE), `/live/ws` (WebSocket), `/live/tasks-live.js`: the tasks-live bridge.

use std::sync::Arc;

use axum::Router;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::{from_fn_with_state, map_response};
use axum::response::Response;
use axum::routing::get;
use tasks_core::{Clock, SubscriptionQuery, TaskStore};
use tasks_live::http::{Authorization, LiveBridge};
use tasks_live::{LiveSource, StoreHandle, TaskLiveHub};

use crate::api::{self, ApiError, ErrorCode, MAX_DETAIL_STEPS, MAX_PAGE_SIZE};
use crate::assets;
use crate::error::DashboardError;
use crate::options::DashboardOptions;
use crate::security::{self, Security};

/// What the API handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    /// The store, called only off the runtime's workers.
    pub(crate) store: StoreHandle,
    /// The time given to the store for writes.
    pub(crate) clock: Arc<dyn Clock>,
}

/// A dashboard over one store: its live hub and its router. Build it inside a tokio runtime.
///
/// [`crate::router`] is the short way when the hub is not needed.
#[derive(Clone, Debug)]
pub struct Dashboard {
    hub: TaskLiveHub,
    router: Router,
}

impl Dashboard {
    /// A dashboard over `store`. Its live hub follows the store's change feed every
    /// `poll_interval`; wake it sooner on a store's notifications with
    /// [`TaskLiveHub::feed_waker`] (the PostgreSQL store's `listen`).
    ///
    /// # Errors
    ///
    /// [`DashboardError::InvalidOption`] for a bad option; [`DashboardError::Live`] outside a
    /// tokio runtime, or for a store without a change feed.
    pub fn new(
        store: Arc<dyn TaskStore>,
        options: DashboardOptions,
    ) -> Result<Self, DashboardError> {
        options.validate()?;
        let source = LiveSource::store_arc(Arc::clone(&store)).poll_interval(options.poll_interval);
        let hub = TaskLiveHub::new(source)?;
        let bridge = LiveBridge::new(hub.clone(), bounded_queries);
        let state = AppState { store: StoreHandle::new(store), clock: Arc::clone(&options.clock) };
        let api = api::routes().with_state(state).layer(map_response(no_store));
        let router = Router::new()
            .route("/", get(assets::index))
            .route("/assets/{file}", get(assets::file))
            .nest("/api", api)
            .nest("/live", bridge.router())
            .fallback(not_found)
            .layer(from_fn_with_state(Security::new(&options), security::guard));
        Ok(Dashboard { hub, router })
    }

    /// The live hub (for its [`TaskLiveHub::feed_waker`], or to subscribe in-process).
    pub fn hub(&self) -> &TaskLiveHub {
        &self.hub
    }

    /// The router, ready for `axum::serve` or to nest in a larger app.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The router, consuming the dashboard.
    pub fn into_router(self) -> Router {
        self.router
    }
}

/// The live bridge's authorization: any query (the guard has checked the caller), with its
/// bootstrap bounded so no request can ask for an unbounded read.
fn bounded_queries(_: &Parts, query: &SubscriptionQuery) -> Authorization {
    let mut bounded = query.clone();
    bounded.limit = query.limit.map(|limit| limit.min(MAX_PAGE_SIZE));
    bounded.recent_steps = query.recent_steps.map(|steps| steps.min(MAX_DETAIL_STEPS));
    if bounded == *query { Authorization::Allow } else { Authorization::narrow(bounded) }
}

/// API answers are live data: never cached.
async fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such page")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> Parts {
        axum::http::Request::new(()).into_parts().0
    }

    #[test]
    fn live_queries_are_bounded_not_refused() {
        let modest =
            SubscriptionQuery { limit: Some(1), recent_steps: Some(20), ..Default::default() };
        assert_eq!(bounded_queries(&parts(), &modest), Authorization::Allow);
        let greedy = SubscriptionQuery {
            limit: Some(10_000),
            recent_steps: Some(50_000),
            ..Default::default()
        };
        let Authorization::Narrow(narrowed) = bounded_queries(&parts(), &greedy) else {
            panic!("a greedy query is narrowed");
        };
        assert_eq!(
            (narrowed.limit, narrowed.recent_steps),
            (Some(MAX_PAGE_SIZE), Some(MAX_DETAIL_STEPS))
        );
        assert_eq!(bounded_queries(&parts(), &SubscriptionQuery::default()), Authorization::Allow);
    }
}
