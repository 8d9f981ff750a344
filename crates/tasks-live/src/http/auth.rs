//! Authorization: the hook that decides, per request, which subscription a caller may open.
//!
//! It sees the request (headers, URI, extensions where an auth middleware left the caller's
//! identity) and the parsed, normalized query, and allows it, narrows it (a query of its
//! own, say restricted to the caller's channels), or refuses it: a refused request gets
//! `403 Forbidden` and no data.

use axum::http::request::Parts;
use tasks_core::SubscriptionQuery;

/// The hook's answer.
#[derive(Clone, PartialEq, Debug)]
#[non_exhaustive]
pub enum Authorization {
    /// Subscribe to the query as asked.
    Allow,
    /// Subscribe to this query instead (a narrower one); see [`Authorization::narrow`].
    Narrow(Box<SubscriptionQuery>),
    /// Refuse: `403 Forbidden`, no data.
    Deny,
}

impl Authorization {
    /// Subscribe to `query` instead of the one asked.
    pub fn narrow(query: SubscriptionQuery) -> Self {
        Authorization::Narrow(Box::new(query))
    }
}

/// Decides which queries a request may subscribe to. Any
/// `Fn(&Parts, &SubscriptionQuery) -> Authorization` is one.
pub trait Authorize: Send + Sync + 'static {
    /// The decision for `query` asked by `request`.
    fn authorize(&self, request: &Parts, query: &SubscriptionQuery) -> Authorization;
}

impl<F> Authorize for F
where
    F: Fn(&Parts, &SubscriptionQuery) -> Authorization + Send + Sync + 'static,
{
    fn authorize(&self, request: &Parts, query: &SubscriptionQuery) -> Authorization {
        self(request, query)
    }
}

/// Allows every query: for trusted networks and tests only.
pub fn allow_all() -> impl Authorize {
    |_: &Parts, _: &SubscriptionQuery| Authorization::Allow
}
