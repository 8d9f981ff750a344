//! Identifiers from options (schema name, table prefix): their validation and the quoted,
//! schema-qualified `Names` every SQL text of the store is built from.
//!
//! Nothing from an option reaches SQL unless it is a plain identifier (`[a-z_][a-z0-9_]*`) that
//! stays within PostgreSQL's 63-byte limit once the longest suffix this crate adds is appended,
//! and even then it is double-quoted. A refused value gives
//! [`PostgresError::InvalidIdentifier`].

use crate::error::PostgresError;

/// PostgreSQL's limit on identifier length, in bytes (`NAMEDATALEN - 1`).
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// Every suffix this crate appends to the table prefix (tables, indexes, triggers, functions,
/// the notification channel). The prefix is refused when prefix + the longest one would pass
/// [`MAX_IDENTIFIER_BYTES`], so PostgreSQL never truncates (and so confuses) two names.
/// Names PostgreSQL derives itself (constraints, the identity sequence) are listed too.
pub(crate) const SUFFIXES: [&str; 27] = [
    "tasks",
    "tasks_pkey",
    "tasks_claim_idx",
    "tasks_dedupe_key",
    "tasks_concurrency_key",
    "tasks_supersede_idx",
    "tasks_active_idx",
    "tasks_created_idx",
    "tasks_finished_idx",
    "tasks_log_insert",
    "tasks_log_update",
    "tasks_log_delete",
    "tasks_status_check",
    "steps",
    "steps_pkey",
    "changes",
    "changes_pkey",
    "changes_at_idx",
    "changes_seq_seq",
    "created_order",
    "created_order_pkey",
    "change_state",
    "change_state_pkey",
    "change_state_id_check",
    "schema_version",
    "schema_version_pkey",
    "wakeup",
];

/// The longest suffix in [`SUFFIXES`], in bytes (21: `tasks_concurrency_key`).
pub(crate) fn longest_suffix() -> usize {
    SUFFIXES.iter().map(|suffix| suffix.len()).max().unwrap_or(0)
}

/// The longest table prefix accepted, in bytes.
pub fn max_prefix_bytes() -> usize {
    MAX_IDENTIFIER_BYTES - longest_suffix()
}

/// Checks that `value` is a plain identifier of at most `max` bytes.
fn check_plain(option: &'static str, value: &str, max: usize) -> Result<(), PostgresError> {
    let refuse = |reason: &'static str| PostgresError::InvalidIdentifier {
        option,
        value: value.chars().take(80).collect(),
        reason,
    };
    let mut bytes = value.bytes();
    let Some(first) = bytes.next() else { return Err(refuse("it is empty")) };
    if !(first.is_ascii_lowercase() || first == b'_') {
        return Err(refuse("it must start with a-z or _"));
    }
    if !bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        return Err(refuse("use only a-z, 0-9 and _"));
    }
    if value.len() > max {
        return Err(refuse("it is too long: identifiers are at most 63 bytes with our suffixes"));
    }
    Ok(())
}

/// Checks a schema name: a plain identifier of at most 63 bytes, not in the reserved `pg_`
/// namespace and not `information_schema` (a superuser could otherwise create the store's
/// tables among the system's views).
///
/// # Errors
///
/// [`PostgresError::InvalidIdentifier`] naming the option and the reason.
pub fn validate_schema(schema: &str) -> Result<(), PostgresError> {
    check_plain("schema", schema, MAX_IDENTIFIER_BYTES)?;
    let reserved = if schema.starts_with("pg_") {
        "names starting with pg_ are reserved by PostgreSQL"
    } else if schema == "information_schema" {
        "information_schema is PostgreSQL's own"
    } else {
        return Ok(());
    };
    Err(PostgresError::InvalidIdentifier {
        option: "schema",
        value: schema.to_owned(),
        reason: reserved,
    })
}

/// Checks a table prefix: a plain identifier short enough that every name built from it stays
/// within 63 bytes.
///
/// # Errors
///
/// [`PostgresError::InvalidIdentifier`] naming the option and the reason.
pub fn validate_prefix(prefix: &str) -> Result<(), PostgresError> {
    check_plain("table_prefix", prefix, max_prefix_bytes())
}

/// Double-quotes an identifier that already passed validation (so holds no quote).
fn quote(identifier: &str) -> String {
    format!("\"{identifier}\"")
}

/// The quoted names of everything the store creates, built once from validated options.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    /// The schema, unquoted (advisory-lock keys and notification payloads use it).
    pub(crate) schema: String,
    /// The table prefix, unquoted.
    pub(crate) prefix: String,
    /// The quoted schema.
    pub(crate) schema_q: String,
    pub(crate) tasks: String,
    pub(crate) steps: String,
    pub(crate) changes: String,
    pub(crate) change_state: String,
    /// The tasks in creation order (since schema version 3; see `schema`).
    pub(crate) created_order: String,
    pub(crate) schema_version: String,
    /// The notification channel (unquoted: `pg_notify` takes it as text).
    pub(crate) channel: String,
}

impl Names {
    /// The names for a schema and a prefix, both validated here.
    pub(crate) fn new(schema: &str, prefix: &str) -> Result<Self, PostgresError> {
        validate_schema(schema)?;
        validate_prefix(prefix)?;
        let qualified =
            |suffix: &str| format!("{}.{}", quote(schema), quote(&format!("{prefix}{suffix}")));
        Ok(Names {
            schema: schema.to_owned(),
            prefix: prefix.to_owned(),
            schema_q: quote(schema),
            tasks: qualified("tasks"),
            steps: qualified("steps"),
            changes: qualified("changes"),
            change_state: qualified("change_state"),
            created_order: qualified("created_order"),
            schema_version: qualified("schema_version"),
            channel: format!("{prefix}wakeup"),
        })
    }

    /// An unqualified, quoted object name (`"<prefix><suffix>"`), for indexes and triggers.
    pub(crate) fn local(&self, suffix: &str) -> String {
        debug_assert!(SUFFIXES.contains(&suffix), "every suffix in use is listed in SUFFIXES");
        quote(&format!("{}{suffix}", self.prefix))
    }

    /// A schema-qualified, quoted object name, for functions.
    pub(crate) fn qualified(&self, suffix: &str) -> String {
        format!("{}.{}", self.schema_q, self.local(suffix))
    }

    /// The text that tells apart this store's objects in advisory-lock keys.
    pub(crate) fn lock_scope(&self) -> String {
        format!("{}.{}", self.schema, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::PostgresErrorKind;

    #[test]
    fn plain_identifiers_pass() {
        assert!(validate_schema("public").is_ok());
        assert!(validate_schema("_x9").is_ok());
        assert!(validate_prefix("tasks_").is_ok());
        assert!(validate_prefix(&"p".repeat(max_prefix_bytes())).is_ok());
    }

    #[test]
    fn hostile_identifiers_are_refused() {
        for bad in [
            "",
            "Public",
            "1abc",
            "a-b",
            "a b",
            "a\"b",
            "a;drop table x",
            "é",
            "a.b",
            "pg_catalog",
            "information_schema",
            &"s".repeat(64),
        ] {
            let err = validate_schema(bad).expect_err(bad);
            assert_eq!(err.kind(), PostgresErrorKind::InvalidIdentifier, "{bad:?}");
        }
        for bad in ["", "T_", "x\0", "a'b", &"p".repeat(max_prefix_bytes() + 1)] {
            let err = validate_prefix(bad).expect_err(bad);
            assert_eq!(err.kind(), PostgresErrorKind::InvalidIdentifier, "{bad:?}");
        }
    }

    #[test]
    fn every_name_fits() {
        let prefix = "p".repeat(max_prefix_bytes());
        let names = Names::new("s", &prefix).expect("valid");
        for suffix in SUFFIXES {
            let local = names.local(suffix);
            assert!(local.len() - 2 <= MAX_IDENTIFIER_BYTES, "{local}");
        }
        assert!(names.channel.len() <= MAX_IDENTIFIER_BYTES);
    }
}
