//! Reading a subscription query and a resume cursor from a request: the query string (one
//! key per filter field; lists as repeated keys or, except channels, comma-separated), or a
//! whole query as JSON (`q=` in the query string, or a POST body).
//!
//! Keys: `taskIds`, `kinds`, `channels`, `states`, `statuses`, `dedupeKey`,
//! `concurrencyKey`, `supersedeKey`, `limit`, `recentSteps`, `includeAggregate`, `q` (JSON),
//! and `cursor` (resume). Other keys (an access token, a cache buster) are ignored.

use tasks_core::{ChangeCursor, LifecycleState, SubscriptionQuery, TaskId, TaskStatus};

/// Why a request's query could not be read (`400 Bad Request`).
#[derive(Debug, thiserror::Error)]
#[error("bad subscription query: {0}")]
pub struct QueryError(String);

fn bad(message: impl Into<String>) -> QueryError {
    QueryError(message.into())
}

fn split(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|part| !part.is_empty())
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, QueryError> {
    value.trim().parse().map_err(|_| bad(format!("{key} must be a number")))
}

/// Reads a query string: the subscription query and the resume cursor, if any.
///
/// # Errors
///
/// [`QueryError`] for an unreadable value (a bad state name, a number that is not one, JSON
/// that does not parse).
pub fn parse_query_string(
    text: &str,
) -> Result<(SubscriptionQuery, Option<ChangeCursor>), QueryError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(text).map_err(|error| bad(error.to_string()))?;
    let mut query = SubscriptionQuery::default();
    if let Some((_, json)) = pairs.iter().find(|(key, _)| key == "q" || key == "query") {
        query = serde_json::from_str(json).map_err(|error| bad(error.to_string()))?;
    }
    let mut cursor = None;
    let filter = &mut query.filter;
    for (key, value) in &pairs {
        match key.as_str() {
            "taskIds" | "taskId" => {
                for id in split(value) {
                    filter.task_ids.push(TaskId::new(id).map_err(|e| bad(e.to_string()))?);
                }
            }
            "kinds" | "kind" => filter.kinds.extend(split(value).map(str::to_owned)),
            "channels" | "channel" => filter.channels.push(value.clone()),
            "states" | "state" => {
                for name in split(value) {
                    let state = LifecycleState::parse(name)
                        .ok_or_else(|| bad(format!("unknown state {name:?}")))?;
                    filter.states.push(state);
                }
            }
            "statuses" | "status" => {
                for name in split(value) {
                    let status = TaskStatus::parse(name)
                        .ok_or_else(|| bad(format!("unknown status {name:?}")))?;
                    filter.statuses.push(status);
                }
            }
            "dedupeKey" => filter.dedupe_key = Some(value.clone()),
            "concurrencyKey" => filter.concurrency_key = Some(value.clone()),
            "supersedeKey" => filter.supersede_key = Some(value.clone()),
            "limit" => query.limit = Some(number(key, value)?),
            "recentSteps" => query.recent_steps = Some(number(key, value)?),
            "includeAggregate" => {
                query.include_aggregate = Some(match value.trim() {
                    "true" | "1" | "" => true,
                    "false" | "0" => false,
                    _ => return Err(bad("includeAggregate must be true or false")),
                });
            }
            "cursor" | "lastEventId" if !value.is_empty() => {
                cursor = Some(ChangeCursor::new(value.clone()));
            }
            _ => {}
        }
    }
    Ok((query, cursor))
}

/// Reads a JSON body as a subscription query.
///
/// # Errors
///
/// [`QueryError`] when it does not parse.
pub fn parse_json_body(body: &[u8]) -> Result<SubscriptionQuery, QueryError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(SubscriptionQuery::default());
    }
    serde_json::from_slice(body).map_err(|error| bad(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_lists_and_json() {
        let (query, cursor) = parse_query_string(
            "kinds=a,b&kind=c&channels=scope%3Ax&channel=scope:y,z&states=running,stale\
             &statuses=queued&dedupeKey=d&limit=5&recentSteps=20&includeAggregate=false&cursor=42\
             &access_token=ignored",
        )
        .expect("reads");
        assert_eq!(query.filter.kinds, vec!["a", "b", "c"]);
        assert_eq!(query.filter.channels, vec!["scope:x", "scope:y,z"]);
        assert_eq!(query.filter.states, vec![LifecycleState::Running, LifecycleState::Stale]);
        assert_eq!(query.filter.statuses, vec![TaskStatus::Queued]);
        assert_eq!(query.filter.dedupe_key.as_deref(), Some("d"));
        assert_eq!((query.limit, query.recent_steps), (Some(5), Some(20)));
        assert_eq!(query.include_aggregate, Some(false));
        assert_eq!(cursor.as_ref().map(ChangeCursor::as_str), Some("42"));

        let (json, _) =
            parse_query_string("q=%7B%22kinds%22%3A%5B%22a%22%5D%2C%22recentSteps%22%3A3%7D")
                .expect("reads");
        assert_eq!(json.filter.kinds, vec!["a"]);
        assert_eq!(json.recent_steps, Some(3));
    }

    #[test]
    fn unreadable_values_are_refused() {
        for text in ["states=sleeping", "limit=ten", "q=%7Bnope", "includeAggregate=maybe"] {
            assert!(parse_query_string(text).is_err(), "{text}");
        }
        assert!(parse_json_body(b"   ").is_ok());
        assert!(parse_json_body(b"[1]").is_err());
    }
}
