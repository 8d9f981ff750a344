//! Authorization: the hook that decides, per request, which subscription a caller may open.
//!
//! It sees the request (headers, URI, extensions where an auth middleware left the caller's
//! identity) and the parsed, normalized query, and allows it, narrows it (a query of its
//! own, say restricted to the caller's channels), or refuses it: a refused request gets
//! `403 Forbidden` and no data.

use axum::http::request::Parts;
use tasks_core::SubscriptionQuery;

/// The hook's answer.
///
/// # Narrowing by state or status is not a boundary
///
/// A narrowed query is enforced on the fields fixed when a task is enqueued (ids, kinds,
/// channels, dedupe / concurrency / supersede keys): a task outside those is never sent. Its
/// lifecycle states and statuses are a view, not a boundary, because a task moves in and out
/// of them, and the subscriber must hear when one leaves:
///
/// - a task the subscriber holds is sent once more when it leaves the narrowed states, with
///   its whole new snapshot (a task allowed while `running` is told `succeeded`, with its
///   output, or `failed`, with its error);
/// - a resumed subscription (`Last-Event-ID`, `?cursor=`) starts with every task changed
///   since its cursor that passes the fixed fields, in whatever state (the hub cannot tell
///   which of them the client held);
/// - a resumed subscription, or one holding more tasks than the hub records
///   ([`HubOptions::held_capacity`](crate::HubOptions::held_capacity)), is also sent the
///   tasks that were inside the narrowed states when the hub last saw them, whether or not
///   this caller held them: it learns that they left, and what they became.
///
/// To keep tasks from a caller, narrow by channels, kinds, ids or keys.
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
