//! The store's fixed SQL texts, built once from the validated [`Names`], and the batch
//! writer every state change goes through.
//!
//! Every write of a task is "read the row, apply core's pure transition in Rust, write the
//! changed columns back", guarded by the revision that was read
//! (`WHERE t.revision = v.old_revision`): a row changed in between is not overwritten, the
//! caller starts over. Batches are one statement over `unnest` arrays, with the steps they
//! add inserted by the same statement, so a write and its steps commit together even without
//! an explicit transaction.

use tasks_core::{StepRecord, TaskRecord};

use crate::ident::Names;
use crate::pool::Db;
use crate::row::{
    DOCUMENT_COLUMNS, INSERT_COLUMNS, PLAIN_COLUMNS, SHARED_COLUMNS, STEP_ARRAY_COLUMNS,
    StepArrays, UPDATE_COLUMNS, UpdateArrays, task_columns,
};

/// The open statuses, as an SQL predicate.
pub(crate) const OPEN: &str = "status IN ('queued', 'claimed', 'running')";
/// The active (leased) statuses, as an SQL predicate.
pub(crate) const ACTIVE: &str = "status IN ('claimed', 'running')";

/// [`ACTIVE`] for the columns of `alias.` (or none), written so that no partial index can be
/// proved from it: for statements that reach tasks by id. With the plain predicate the planner
/// may walk the active-tasks index (every claimed or running task, and the dead entries of the
/// ones finished since the last vacuum) instead of probing the primary key, whenever its
/// statistics say few tasks are active; a heartbeat then costs as much as the work in flight
/// is large. `status` is never NULL, so the `coalesce` changes nothing else.
pub(crate) fn active_by_id(alias: &str) -> String {
    let prefix = if alias.is_empty() { String::new() } else { format!("{alias}.") };
    format!("coalesce({prefix}{ACTIVE}, false)")
}

/// `unnest($first::type[], ...) AS alias(col, ...)` over `columns`, numbering from `first`.
fn unnest(columns: &[(&str, &str)], first: usize, alias: &str) -> String {
    let params: Vec<String> =
        columns.iter().enumerate().map(|(i, (_, ty))| format!("${}::{ty}", first + i)).collect();
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    format!("unnest({}) AS {alias}({})", params.join(", "), names.join(", "))
}

/// What a claim sets, from `$now`, `$runner`, `$expires` and a token expression: core's
/// `transition::claim`, and `transition::start` with it when `start`.
fn claim_sets(start: bool, now: &str, runner: &str, expires: &str, token: &str) -> String {
    let (status, started_at, revisions) =
        if start { ("running", now, 2) } else { ("claimed", "NULL", 1) };
    format!(
        "status = '{status}', attempt = least(t.attempt + 1, {max_u32}), claimed_at = {now}, \
         started_at = {started_at}, finished_at = NULL, lease_owner = {runner}, \
         lease_token = {token}, lease_expires_at = {expires}, retry_scheduled_at = NULL, \
         last_heartbeat_at = {now}, stale_at = NULL, stale_reason = NULL, \
         revision = t.revision + {revisions}, updated_at = {now}",
        max_u32 = u32::MAX,
    )
}

/// `$1` ids, `$2` lease tokens, `$3` now, `$4` runner, `$5` lease expiry: see
/// [`Sql::claim_update`].
fn claim_update(tasks: &str, t_cols: &str, start: bool) -> String {
    format!(
        "UPDATE {tasks} AS t SET {} \
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS v(id, token, ord) \
         WHERE t.id = v.id RETURNING {t_cols}, v.ord",
        claim_sets(start, "$3", "$4", "$5", "v.token")
    )
}

/// The candidates of a claim in claim order: queued, due at `$1`, of the kinds `$2` (all when
/// NULL), and with no claimed or running task holding their concurrency key. `extra` adds
/// conditions; `columns` are selected.
fn claim_candidates(tasks: &str, columns: &str, extra: &str) -> String {
    // The `OFFSET 0` keeps the key check a per-candidate lookup in the unique index: without
    // it the planner may hash the keys of every claimed or running task on each claim.
    format!(
        "SELECT {columns} FROM {tasks} AS t \
         WHERE t.status = 'queued' AND t.scheduled_at <= $1 \
           AND ($2::text[] IS NULL OR t.kind = ANY($2::text[])){extra} \
           AND (t.concurrency_key IS NULL OR NOT EXISTS (SELECT 1 FROM {tasks} AS a \
                WHERE a.concurrency_key = t.concurrency_key AND a.{ACTIVE} OFFSET 0)) \
         ORDER BY t.priority DESC, t.scheduled_at, t.id"
    )
}

/// See [`Sql::claim_direct`]. The candidates are locked in a CTE (row locks keep it from being
/// folded into the update); of those sharing a key, one that another candidate precedes in claim
/// order is passed over (the row comparison is claim order: priority descending, then due time,
/// then id; it is a scan of the candidates for each keyed one, which the caller bounds by the
/// claim's size). The claimed tasks are found by `id = ANY` (the primary key, whatever the
/// estimates) and paired with the tokens by position. Nothing here sorts: with `enable_sort`
/// off a sort is costed as if forbidden.
fn claim_direct(tasks: &str, t_cols: &str, start: bool) -> String {
    let candidates =
        claim_candidates(tasks, "t.id, t.concurrency_key, t.priority, t.scheduled_at", "");
    format!(
        "WITH c AS ({candidates} LIMIT $3 FOR UPDATE OF t SKIP LOCKED), \
         k AS (SELECT array_agg(c.id) AS ids, (SELECT count(*) FROM c) AS locked FROM c \
               WHERE c.concurrency_key IS NULL OR NOT EXISTS (SELECT 1 FROM c AS p \
                   WHERE p.concurrency_key = c.concurrency_key \
                   AND (c.priority, p.scheduled_at, p.id) < (p.priority, c.scheduled_at, c.id))) \
         UPDATE {tasks} AS t SET {} FROM k, unnest(k.ids, $4::text[]) AS v(id, token) \
         WHERE t.id = ANY(k.ids) AND t.id = v.id RETURNING {t_cols}, k.locked",
        claim_sets(start, "$1", "$5", "$6", "v.token")
    )
}

/// The fixed SQL of one store.
#[derive(Debug)]
pub(crate) struct Sql {
    pub(crate) names: Names,
    /// The primary-key constraint of the tasks table (unquoted), to recognise duplicate ids.
    pub(crate) pkey: String,
    /// `$1` id.
    pub(crate) select_task: String,
    /// `$1` ids: the tasks, locked in id order.
    pub(crate) lock_tasks: String,
    /// New tasks from [`INSERT_COLUMNS`] arrays.
    pub(crate) insert: String,
    /// New plain tasks from a [`PlainInsert`](crate::row::PlainInsert); index: whether the
    /// channel lists are sent.
    pub(crate) insert_plain: [String; 2],
    /// One new task with a dedupe key; inserts nothing when an open duplicate exists.
    pub(crate) insert_dedupe: String,
    /// `$1` kind, `$2` dedupe key: the open task blocking a duplicate.
    pub(crate) find_dedupe: String,
    /// `$1` kind, `$2` supersede key: open tasks of the group, locked.
    pub(crate) lock_superseded: String,
    /// `$1` lock scope text: exclusive and shared advisory locks of a supersede group.
    pub(crate) lock_supersede: String,
    pub(crate) lock_supersede_shared: String,
    /// Updates from [`UpdateArrays`]; index `documents as usize`.
    update: [String; 2],
    /// Updates plus steps (returns the number of tasks updated); index `documents as usize`.
    update_with_steps: [String; 2],
    /// `$1` now, `$2` kinds or NULL, `$3` full kinds, `$4` ids seen, `$5` busy keys, `$6` limit:
    /// the candidates' id, kind and concurrency key, locked, in claim order.
    pub(crate) claim_candidates: String,
    /// `$1` ids, `$2` lease tokens, `$3` now, `$4` runner, `$5` lease expiry: claims locked
    /// candidates, returning each task and its place in the arrays (see the `claim` module).
    /// The candidates are locked, queued and due, so the ids are the whole condition: no
    /// partial index (whose row counts the planner may misjudge) is a way to the rows.
    pub(crate) claim_update: String,
    /// The same parameters: claims and starts in one statement (`claim_and_start`): what
    /// `transition::start` then changes (status `running`, `startedAt` now, one revision more;
    /// the sign of life is the claim's own) written with the claim.
    pub(crate) claim_start_update: String,
    /// `$1` now, `$2` kinds or NULL, `$3` limit, `$4` lease tokens (at least `$3`), `$5` runner,
    /// `$6` lease expiry: selects, locks and claims in one statement (index `start as usize`:
    /// whether it also starts), for claims without per-kind limits (see the `claim` module).
    /// Of candidates sharing a concurrency key only the first in claim order is claimed; each
    /// row returned is a task, then how many candidates were locked.
    pub(crate) claim_direct: [String; 2],
    /// `$1` kinds: claimed-or-running counts per kind.
    pub(crate) count_active_kinds: String,
    /// Claimed-or-running count of the whole store.
    pub(crate) count_active: String,
    /// `$1` lock scope texts: the kinds' limit locks, in order.
    pub(crate) lock_kind_limits: String,
    /// `$1` lock scope: the store-wide limit lock.
    pub(crate) lock_global_limit: String,
    /// `$1` now, `$2` limit.
    pub(crate) recover_candidates: String,
    /// `$1` latest silent sign of life, `$2` limit.
    pub(crate) stale_candidates: String,
    /// `$1` channel, `$2` payload.
    pub(crate) notify: String,
    /// `schema.prefix`, the root of every advisory-lock scope text.
    lock_scope_prefix: String,
}

impl Sql {
    pub(crate) fn new(names: Names) -> Self {
        let tasks = &names.tasks;
        let cols = task_columns("");
        let t_cols = task_columns("t");
        let insert_names: Vec<&str> = INSERT_COLUMNS.iter().map(|(name, _)| *name).collect();
        let insert_names = insert_names.join(", ");
        let insert = format!(
            "INSERT INTO {tasks} ({insert_names}) SELECT * FROM {}",
            unnest(&INSERT_COLUMNS, 1, "v")
        );
        // Parameters: the arrays of `PLAIN_COLUMNS`, the single values of `SHARED_COLUMNS`,
        // then the channel lists when sent.
        let insert_plain = |channels: bool| {
            let shared_from = PLAIN_COLUMNS.len() + 1;
            let mut columns: Vec<&str> = PLAIN_COLUMNS.iter().map(|(name, _)| *name).collect();
            let mut values: Vec<String> = columns.iter().map(|name| format!("v.{name}")).collect();
            for (i, (name, ty)) in SHARED_COLUMNS.iter().enumerate() {
                columns.push(name);
                values.push(format!("${}::{ty}", shared_from + i));
            }
            let mut params: Vec<String> = PLAIN_COLUMNS
                .iter()
                .enumerate()
                .map(|(i, (_, ty))| format!("${}::{ty}", i + 1))
                .collect();
            let mut names: Vec<&str> = PLAIN_COLUMNS.iter().map(|(name, _)| *name).collect();
            if channels {
                columns.push("channels");
                values.push("v.channels".to_owned());
                // The channels come after the shared values.
                params.push(format!("${}::jsonb[]", shared_from + SHARED_COLUMNS.len()));
                names.push("channels");
            }
            let unnested = format!("unnest({}) AS v({})", params.join(", "), names.join(", "));
            format!(
                "INSERT INTO {tasks} ({}) SELECT {} FROM {unnested}",
                columns.join(", "),
                values.join(", ")
            )
        };
        let insert_dedupe = format!(
            "{insert} ON CONFLICT (kind, dedupe_key) \
             WHERE dedupe_key IS NOT NULL AND {OPEN} AND cancel_requested_at IS NULL \
             DO NOTHING RETURNING id"
        );
        let update = |documents: bool| {
            let mut columns: Vec<(&str, &str)> = vec![("id", "text[]"), ("old_revision", "int8[]")];
            columns.extend(UPDATE_COLUMNS);
            if documents {
                columns.extend(DOCUMENT_COLUMNS);
            }
            let sets: Vec<String> =
                columns[2..].iter().map(|(name, _)| format!("{name} = v.{name}")).collect();
            let sql = format!(
                "UPDATE {tasks} AS t SET {} FROM {} WHERE t.id = v.id AND t.revision = v.old_revision",
                sets.join(", "),
                unnest(&columns, 1, "v")
            );
            (sql, columns.len())
        };
        let with_steps = |documents: bool| {
            let (update, count) = update(documents);
            let step_names: Vec<&str> = STEP_ARRAY_COLUMNS.iter().map(|(name, _)| *name).collect();
            format!(
                "WITH u AS ({update} RETURNING t.id), \
                 s AS (INSERT INTO {steps} ({names}) SELECT * FROM {arrays} \
                       WHERE s.task_id IN (SELECT id FROM u) RETURNING 1) \
                 SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM s)",
                steps = names.steps,
                names = step_names.join(", "),
                arrays = unnest(&STEP_ARRAY_COLUMNS, count + 1, "s"),
            )
        };
        let scope = names.lock_scope();
        Sql {
            pkey: format!("{}tasks_pkey", names.prefix),
            select_task: format!("SELECT {cols} FROM {tasks} WHERE id = $1"),
            lock_tasks: format!(
                "SELECT {cols} FROM {tasks} WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE"
            ),
            insert,
            insert_plain: [insert_plain(false), insert_plain(true)],
            insert_dedupe,
            find_dedupe: format!(
                "SELECT {cols} FROM {tasks} WHERE kind = $1 AND dedupe_key = $2 \
                 AND {OPEN} AND cancel_requested_at IS NULL"
            ),
            lock_superseded: format!(
                "SELECT {cols} FROM {tasks} WHERE kind = $1 AND supersede_key = $2 AND {OPEN} \
                 ORDER BY id FOR UPDATE"
            ),
            lock_supersede: format!(
                "SELECT pg_advisory_xact_lock({}, hashtext($1::text))",
                crate::schema::LOCK_SUPERSEDE
            ),
            lock_supersede_shared: format!(
                "SELECT pg_advisory_xact_lock_shared({}, hashtext($1::text))",
                crate::schema::LOCK_SUPERSEDE
            ),
            update: [update(false).0, update(true).0],
            update_with_steps: [with_steps(false), with_steps(true)],
            claim_candidates: claim_candidates(
                tasks,
                "t.id, t.kind, t.concurrency_key",
                " AND NOT (t.kind = ANY($3::text[])) AND NOT (t.id = ANY($4::text[])) \
                 AND (t.concurrency_key IS NULL OR NOT (t.concurrency_key = ANY($5::text[])))",
            ) + " LIMIT $6 FOR UPDATE OF t SKIP LOCKED",
            claim_update: claim_update(tasks, &t_cols, false),
            claim_start_update: claim_update(tasks, &t_cols, true),
            claim_direct: [claim_direct(tasks, &t_cols, false), claim_direct(tasks, &t_cols, true)],
            count_active_kinds: format!(
                "SELECT kind, count(*) FROM {tasks} WHERE {ACTIVE} AND kind = ANY($1::text[]) GROUP BY kind"
            ),
            count_active: format!("SELECT count(*) FROM {tasks} WHERE {ACTIVE}"),
            lock_kind_limits: format!(
                "SELECT pg_advisory_xact_lock({}, k) FROM \
                 (SELECT DISTINCT hashtext(s) AS k FROM unnest($1::text[]) AS s ORDER BY 1) AS keys",
                crate::schema::LOCK_KIND_LIMIT
            ),
            lock_global_limit: format!(
                "SELECT pg_advisory_xact_lock({}, hashtext($1::text))",
                crate::schema::LOCK_GLOBAL_LIMIT
            ),
            recover_candidates: format!(
                "SELECT {cols} FROM {tasks} WHERE {ACTIVE} \
                 AND (lease_expires_at IS NULL OR lease_expires_at <= $1) \
                 ORDER BY lease_expires_at NULLS FIRST, id LIMIT $2 FOR UPDATE SKIP LOCKED"
            ),
            stale_candidates: format!(
                "SELECT {cols} FROM {tasks} WHERE {ACTIVE} AND stale_at IS NULL \
                 AND coalesce(last_heartbeat_at, claimed_at, updated_at) <= $1 \
                 ORDER BY last_heartbeat_at NULLS FIRST, id LIMIT $2 FOR UPDATE SKIP LOCKED"
            ),
            notify: "SELECT pg_notify($1, $2)".to_owned(),
            lock_scope_prefix: scope,
            names,
        }
    }

    /// A lock-scope text under this store's scope (`schema.prefix/<rest>`).
    pub(crate) fn scope(&self, rest: &str) -> String {
        format!("{}/{rest}", self.lock_scope_prefix)
    }
}

/// Writes changed tasks (and the steps they add) in one statement; returns how many tasks
/// were updated. A task whose revision moved since it was read is left alone (and not
/// counted), and so are its steps.
pub(crate) fn write(
    db: &mut impl Db,
    sql: &Sql,
    updates: &UpdateArrays<'_>,
    steps: &[StepRecord],
) -> Result<u64, postgres::Error> {
    if updates.is_empty() {
        return Ok(0);
    }
    let documents = usize::from(updates.documents);
    let mut params = updates.params();
    if steps.is_empty() {
        return db.execute(&sql.update[documents], &params);
    }
    let mut arrays = StepArrays::default();
    for step in steps {
        arrays.push(step);
    }
    let step_params = arrays.params();
    params.extend(step_params.iter().copied());
    let rows = db.query(&sql.update_with_steps[documents], &params)?;
    let updated: i64 = rows.first().map_or(0, |row| row.get(0));
    Ok(u64::try_from(updated).unwrap_or(0))
}

/// Writes `(as read, as changed)` pairs and their steps (see [`write`]).
pub(crate) fn write_pairs(
    db: &mut impl Db,
    sql: &Sql,
    pairs: &[(TaskRecord, TaskRecord)],
    steps: &[StepRecord],
) -> Result<u64, postgres::Error> {
    let mut updates = UpdateArrays::default();
    for (old, new) in pairs {
        updates.push(old, new);
    }
    write(db, sql, &updates, steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::PostgresStoreOptions;

    #[test]
    fn the_lean_insert_numbers_arrays_then_shared_values_then_channels() {
        let options = PostgresStoreOptions::from_url("postgres://localhost/x").expect("valid");
        let sql = Sql::new(options.names().expect("valid names"));
        let [without, with] = &sql.insert_plain;
        assert!(without.contains("unnest($1::text[], $2::text[], $3::json[]"), "{without}");
        assert!(without.contains("v.scheduled_at, $9::text, $10::int8"), "{without}");
        assert!(without.contains("$14::int8 FROM"), "{without}");
        assert!(!without.contains("channels"), "{without}");
        assert!(with.contains("$8::int8[], $15::jsonb[]) AS v(id, kind"), "{with}");
        assert!(with.contains(", channels) SELECT"), "{with}");
        assert!(with.ends_with("scheduled_at, channels)"), "{with}");
    }
}
