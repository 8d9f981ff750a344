//! Reading the API's query strings: [`Params`] (the raw pairs, with unknown keys refused),
//! and from them a [`TaskFilter`], a page of a task list, and a step read.
//!
//! Lists come as repeated keys or comma-separated (`state=running,stale&kind=a&kind=b`), except
//! `channel`, whose names may hold commas. An empty value filters nothing, as an empty form
//! field means "any".

use std::str::FromStr;

use tasks_core::{LifecycleState, StepQuery, TaskFilter, TaskListQuery, TaskOrder, TaskStatus};

use super::error::{ApiError, ErrorCode};

/// Tasks per page when the request names no `limit`.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Most tasks one page may hold.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Most recent steps a task detail may carry.
pub const MAX_DETAIL_STEPS: u32 = 1000;

/// Keys every endpoint accepts and ignores: the access token (see the security module).
const ALWAYS_ALLOWED: &[&str] = &["token"];

/// Keys of a task filter.
pub(crate) const FILTER_KEYS: &[&str] =
    &["state", "states", "status", "statuses", "kind", "kinds", "channel", "channels"];

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, message)
}

/// A request's query pairs.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Reads `query`, refusing keys outside `allowed`.
    pub(crate) fn parse(query: Option<&str>, allowed: &[&[&str]]) -> Result<Params, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|error| invalid(format!("unreadable query string: {error}")))?;
        for (key, _) in &pairs {
            let known = ALWAYS_ALLOWED.contains(&key.as_str())
                || allowed.iter().any(|keys| keys.contains(&key.as_str()));
            if !known {
                return Err(invalid(format!("unknown query parameter {key:?}")));
            }
        }
        Ok(Params(pairs))
    }

    /// Every value of these keys, comma-separated lists split when `split`, blanks dropped.
    fn list(&self, keys: &[&str], split: bool) -> Vec<String> {
        let mut values = Vec::new();
        for (_, value) in self.0.iter().filter(|(key, _)| keys.contains(&key.as_str())) {
            if split {
                values.extend(
                    value.split(',').map(str::trim).filter(|v| !v.is_empty()).map(String::from),
                );
            } else if !value.trim().is_empty() {
                values.push(value.trim().to_owned());
            }
        }
        values
    }

    /// The last non-blank value of `key`.
    fn one(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, value)| k == key && !value.trim().is_empty())
            .map(|(_, value)| value.trim())
    }

    /// The value of `key` as a number, if given.
    fn number<T: FromStr>(&self, key: &str) -> Result<Option<T>, ApiError> {
        self.one(key)
            .map(|value| {
                value
                    .parse()
                    .map_err(|_| invalid(format!("{key} must be a whole number, got {value:?}")))
            })
            .transpose()
    }

    /// The value of `key` as a boolean, if given.
    fn flag(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.one(key)
            .map(|value| match value {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                other => Err(invalid(format!("{key} must be true or false, got {other:?}"))),
            })
            .transpose()
    }

    /// The task filter: `state`, `status`, `kind`, `channel`.
    pub(crate) fn filter(&self) -> Result<TaskFilter, ApiError> {
        let mut filter = TaskFilter::all();
        for name in self.list(&["state", "states"], true) {
            let state = LifecycleState::parse(&name)
                .ok_or_else(|| invalid(format!("unknown state {name:?}")))?;
            filter.states.push(state);
        }
        for name in self.list(&["status", "statuses"], true) {
            let status = TaskStatus::parse(&name)
                .ok_or_else(|| invalid(format!("unknown status {name:?}")))?;
            filter.statuses.push(status);
        }
        filter.kinds = self.list(&["kind", "kinds"], true);
        filter.channels = self.list(&["channel", "channels"], false);
        Ok(filter)
    }

    /// A page of the task list: the filter, `limit` (default 50, at most 1000), `offset`, and
    /// `order` (`created_desc`, the default, `created_asc`, `updated_desc`, `scheduled_asc`,
    /// `scheduled_desc`).
    pub(crate) fn task_page(&self) -> Result<TaskListQuery, ApiError> {
        let limit = self.number::<u32>("limit")?.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(invalid(format!("limit must be from 1 to {MAX_PAGE_SIZE}, got {limit}")));
        }
        let order = match self.one("order") {
            None => TaskOrder::default(),
            Some(name) => serde_json::from_value(serde_json::Value::String(name.to_owned()))
                .map_err(|_| invalid(format!("unknown order {name:?}")))?,
        };
        let offset = self.number::<u32>("offset")?.unwrap_or(0);
        Ok(TaskListQuery::filtered(self.filter()?).limit(limit).offset(offset).order(order))
    }

    /// How many recent steps a task detail carries: `steps` (default 100, at most 1000).
    pub(crate) fn detail_steps(&self) -> Result<u32, ApiError> {
        let steps = self.number::<u32>("steps")?.unwrap_or(100);
        if steps > MAX_DETAIL_STEPS {
            return Err(invalid(format!("steps must be at most {MAX_DETAIL_STEPS}, got {steps}")));
        }
        Ok(steps)
    }

    /// A step read: `afterSeq`, `limit` (the store's default and bounds), `latest`.
    pub(crate) fn step_query(&self) -> Result<StepQuery, ApiError> {
        Ok(StepQuery {
            after_seq: self.number("afterSeq")?,
            limit: self.number("limit")?,
            latest: self.flag("latest")?.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<Params, ApiError> {
        Params::parse(Some(query), &[FILTER_KEYS, &["limit", "offset", "order"]])
    }

    #[test]
    fn lists_split_on_commas_except_channels() {
        let params = parse("state=running,stale&state=&kind=a&kinds=b,c&channel=scope:x,y&token=t")
            .expect("reads");
        let filter = params.filter().expect("a filter");
        assert_eq!(filter.states, vec![LifecycleState::Running, LifecycleState::Stale]);
        assert_eq!(filter.kinds, vec!["a", "b", "c"]);
        assert_eq!(filter.channels, vec!["scope:x,y"]);
    }

    #[test]
    fn pages_have_defaults_and_bounds() {
        let page = parse("").expect("reads").task_page().expect("a page");
        assert_eq!(
            (page.limit, page.offset, page.order),
            (Some(50), Some(0), TaskOrder::CreatedDesc)
        );
        let page = parse("limit=7&offset=99950&order=created_asc")
            .expect("reads")
            .task_page()
            .expect("a page");
        assert_eq!(
            (page.limit, page.offset, page.order),
            (Some(7), Some(99_950), TaskOrder::CreatedAsc)
        );
        for bad in
            ["limit=0", "limit=1001", "limit=ten", "offset=-1", "order=random", "state=sleeping"]
        {
            let error = parse(bad).and_then(|params| params.task_page()).expect_err(bad);
            assert_eq!(error.code, ErrorCode::InvalidQuery, "{bad}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error = parse("stat=running").expect_err("a typo");
        assert_eq!(error.code, ErrorCode::InvalidQuery);
    }
}
