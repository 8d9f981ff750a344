//! The macros of the suite: [`store_conformance!`](crate::store_conformance), which emits one
//! `#[test]` per behaviour, and the hidden list of behaviour names it shares with
//! [`BEHAVIOURS`](super::BEHAVIOURS), so the two can never drift apart.

/// Runs the whole conformance suite against a store: emits one `#[test] fn <behaviour>()` per
/// behaviour of [`suite`](crate::suite), each on a fresh store from `factory`.
///
/// `factory` is any expression callable with no argument (a function path or a closure) that
/// returns a [`StoreFixture`](crate::StoreFixture): a store itself, an `Arc<dyn TaskStore>`,
/// or a [`WithGuard`](crate::WithGuard) holding a store with what must outlive it (a temporary
/// directory, say). It is called once per test, so every behaviour starts from a clean store.
///
/// Call it once per module; `cargo test <behaviour>` runs one behaviour.
///
/// ```
/// // tests/conformance.rs of a crate with its own store:
/// tasks_testkit::store_conformance!(tasks_testkit::MemoryStore::new);
///
/// // A store that needs company (in real life a `tempfile::TempDir` holding its file):
/// mod with_guard {
///     tasks_testkit::store_conformance!(|| tasks_testkit::WithGuard {
///         store: tasks_testkit::MemoryStore::new(),
///         guard: std::env::temp_dir(),
///     });
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! store_conformance {
    ($factory:expr $(,)?) => {
        $crate::__conformance_behaviours! { @tests $factory }
    };
}

/// The one list of behaviour names. `@tests <factory>` emits the tests of
/// [`store_conformance!`]; `@table` expands to the slice behind
/// [`BEHAVIOURS`](crate::suite::BEHAVIOURS). Not part of the API.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_behaviours {
    ($($mode:tt)*) => {
        $crate::__conformance_apply! { [$($mode)*] [
            // enqueue
            enqueue_creates_queued_task,
            enqueue_keeps_caller_id_and_refuses_duplicate,
            enqueue_applies_schedule,
            enqueue_round_trips_values_at_limits,
            enqueue_round_trips_nul_in_json,
            enqueue_batch_is_sequential,
            enqueue_batch_is_all_or_nothing,
            // dedupe and supersede
            dedupe_reuses_open_task,
            dedupe_creates_new_task_after_finish,
            dedupe_skips_cancel_requested_task,
            supersede_cancels_queued_tasks,
            supersede_requests_cancel_of_active_tasks,
            supersede_only_when_something_is_replaced,
            // reads
            get_returns_none_for_unknown_id,
            list_filters_by_ids_kinds_and_channels,
            list_filters_by_status_and_state,
            list_filters_by_keys,
            list_orders_with_ties_by_id,
            list_pages_with_offset_and_limit,
            list_refuses_invalid_query,
            // claim
            claim_takes_due_task_with_fresh_lease,
            claim_takes_each_task_once,
            claim_skips_tasks_not_yet_due,
            claim_orders_by_priority_then_schedule_then_id,
            claim_batch_respects_limit,
            claim_respects_kinds_and_kind_limit,
            claim_respects_kind_max_active,
            claim_respects_global_max_active,
            claim_one_task_per_concurrency_key,
            claim_fills_a_batch_past_tasks_of_a_held_key,
            claim_refuses_invalid_request,
            // lease fencing
            worker_writes_refuse_wrong_token,
            worker_writes_refuse_expired_lease,
            worker_writes_refuse_lease_of_earlier_claim,
            worker_writes_refuse_finished_task,
            start_moves_claimed_task_to_running,
            // worker writes
            heartbeat_renews_lease,
            heartbeat_shows_cancel_request,
            progress_merges_fields,
            progress_refuses_invalid_percent,
            negative_zero_percent_is_kept_as_zero,
            steps_are_numbered_without_gaps,
            steps_replay_from_cursor_with_limit,
            steps_refuse_empty_message_atomically,
            list_steps_of_unknown_task_is_not_found,
            // finish, retry, cancel, release
            complete_finishes_task,
            fail_with_retry_requeues_task,
            fail_without_retry_fails_task,
            fail_with_retries_exhausted_fails_task,
            cancel_queued_task_at_once,
            cancel_running_task_requests_then_acknowledges,
            cancel_finished_or_unknown_task_is_refused,
            release_requeues_task_and_gives_attempt_back,
            release_with_cancel_requested_cancels_task,
            // operator retry
            retry_makes_scheduled_task_due_now,
            retry_requeues_failed_task,
            retry_requeues_cancelled_task,
            retry_refuses_active_succeeded_or_unknown_task,
            retry_refuses_while_dedupe_key_is_held,
            // batched worker writes
            start_batch_matches_single_starts,
            claim_and_start_matches_claim_then_start,
            finish_batch_matches_single_finishes,
            finish_batch_refuses_only_stale_items,
            empty_batches_change_nothing,
            batch_items_are_one_change_each,
            finish_and_claim_finishes_first_then_claims,
            finish_and_claim_takes_a_retry_due_now,
            finish_and_claim_refuses_an_invalid_request_writing_nothing,
            // recovery and stale
            recover_expired_requeues_task,
            recover_expired_fails_at_max_attempts,
            recover_expired_respects_limit_oldest_first,
            mark_stale_marks_silent_tasks,
            stale_mark_cleared_by_sign_of_life,
            // aggregate
            aggregate_matches_records,
            aggregate_of_nothing_is_zero,
            // retention
            compact_deletes_finished_tasks_past_ttl,
            compact_never_deletes_open_tasks,
            compact_trims_steps_keeping_newest,
            compact_keeps_latest_per_kind,
            // revision
            revision_rises_by_one_on_every_change,
            revision_unchanged_by_no_ops,
            // change feed
            change_feed_returns_every_change_once_in_order,
            change_cursor_sees_only_newer_changes,
            // concurrency
            concurrent_claims_never_share_a_task,
            concurrent_claims_respect_keys_and_limits,
            // bad input
            enqueue_refuses_invalid_kind,
            enqueue_refuses_oversized_or_deep_input,
            enqueue_refuses_invalid_channels,
            enqueue_refuses_invalid_options,
            enqueue_refuses_duplicate_or_malformed_caller_id,
            unknown_ids_are_not_found,
            worker_writes_refuse_oversized_output_or_error,
        ] }
    };
}

/// Expands the list of [`__conformance_behaviours!`] in one mode. Not part of the API.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_apply {
    ([@table] [$($name:ident),* $(,)?]) => {
        &[$((stringify!($name), $crate::suite::$name as $crate::suite::Behaviour)),*]
    };
    ([@tests $factory:expr] [$($name:ident),* $(,)?]) => {
        $(
            #[test]
            fn $name() {
                let fixture = ($factory)();
                $crate::suite::$name($crate::StoreFixture::store(&fixture));
            }
        )*
    };
}
