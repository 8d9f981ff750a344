//! [`DashboardOptions`]: the access token, how often the store's change feed is read, which
//! `Host` names and `Origin`s are accepted, and the clock that stamps cancel and retry requests.

use std::sync::Arc;
use std::time::Duration;

use tasks_core::{Clock, SystemClock};

use crate::error::DashboardError;

/// Longest access token accepted.
pub const MAX_TOKEN_LEN: usize = 512;

/// How a dashboard behaves. Every field has a default; build with the methods.
///
/// - `token` (default none): when set, every request (page, assets, API, live stream) must
///   present it; see the crate docs for the three ways.
/// - `poll_interval` (default 100 ms): how often the live hub reads the store's change feed,
///   so about the longest an update waits before it reaches the page.
/// - `allowed_hosts` (default none beyond loopback names and IP addresses): `Host` names
///   accepted when no token is set (a defence against DNS rebinding).
/// - `allowed_origins` (default none beyond the request's own): extra `Origin`s accepted on
///   state-changing requests, for a dashboard behind a reverse proxy that rewrites `Host`.
/// - `clock` (default the system clock): the time given to the store for cancel and retry.
#[derive(Clone)]
pub struct DashboardOptions {
    pub(crate) token: Option<String>,
    pub(crate) poll_interval: Duration,
    pub(crate) allowed_hosts: Vec<String>,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DashboardOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: say only whether there is one.
        f.debug_struct("DashboardOptions")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("poll_interval", &self.poll_interval)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("allowed_origins", &self.allowed_origins)
            .finish_non_exhaustive()
    }
}

impl Default for DashboardOptions {
    fn default() -> Self {
        DashboardOptions {
            token: None,
            poll_interval: Duration::from_millis(100),
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl DashboardOptions {
    /// The defaults: no token, a 100 ms poll interval, loopback and IP hosts, same origin.
    pub fn new() -> Self {
        DashboardOptions::default()
    }

    /// Requires `token` on every request. It must be 1 to 512 characters from
    /// `A-Z a-z 0-9 - . _ ~ + / =` (so it travels unchanged in a header, a cookie and a URL);
    /// [`crate::router`] refuses any other with [`DashboardError::InvalidOption`].
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Reads the store's change feed this often (at least 1 ms).
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Also accepts requests whose `Host` is `host` (a name, without port) when no token is
    /// set. Loopback names and IP addresses are always accepted.
    #[must_use]
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into().to_ascii_lowercase());
        self
    }

    /// Also accepts state-changing requests from `origin` (`scheme://host[:port]`).
    #[must_use]
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        let origin = origin.into().trim_end_matches('/').to_ascii_lowercase();
        self.allowed_origins.push(origin);
        self
    }

    /// Stamps cancel and retry requests with this clock.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Whether a token is required.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Checks what the builder methods could not.
    pub(crate) fn validate(&self) -> Result<(), DashboardError> {
        if let Some(token) = &self.token {
            let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
            if token.is_empty() || token.len() > MAX_TOKEN_LEN || !token.chars().all(allowed) {
                return Err(DashboardError::InvalidOption {
                    option: "token",
                    reason: "use 1 to 512 characters from A-Z a-z 0-9 - . _ ~ + / =",
                });
            }
        }
        for host in &self.allowed_hosts {
            if host.is_empty() || host.contains(['/', ' ', ':']) {
                return Err(DashboardError::InvalidOption {
                    option: "allowed host",
                    reason: "give a host name without scheme, port or path",
                });
            }
        }
        for origin in &self.allowed_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(DashboardError::InvalidOption {
                    option: "allowed origin",
                    reason: "give scheme://host[:port], as a browser sends it",
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DashboardErrorKind;

    #[test]
    fn tokens_outside_the_safe_alphabet_are_refused() {
        for bad in ["", "has space", "semi;colon", "quote\"", &"x".repeat(MAX_TOKEN_LEN + 1)] {
            let error = DashboardOptions::new().token(bad).validate().expect_err(bad);
            assert_eq!(error.kind(), DashboardErrorKind::InvalidOption);
        }
        DashboardOptions::new().token("aZ09-._~+/=").validate().expect("a safe token");
    }

    #[test]
    fn hosts_and_origins_are_checked() {
        assert!(DashboardOptions::new().allow_host("a.example:80").validate().is_err());
        assert!(DashboardOptions::new().allow_origin("a.example").validate().is_err());
        let fine =
            DashboardOptions::new().allow_host("A.example").allow_origin("https://a.example/");
        fine.validate().expect("valid");
        assert_eq!(fine.allowed_hosts, vec!["a.example"]);
        assert_eq!(fine.allowed_origins, vec!["https://a.example"]);
    }

    #[test]
    fn debug_hides_the_token() {
        let text = format!("{:?}", DashboardOptions::new().token("secret-token"));
        assert!(!text.contains("secret-token"));
    }
}
