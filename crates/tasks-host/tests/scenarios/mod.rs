//! The host's behaviours, one public async function each, taking the store to run on. The
//! [`host_scenarios!`] macro turns them into one named `#[test]` per behaviour for a store
//! factory, so every store runs every scenario and a failure names both.

pub(crate) mod basics;
pub(crate) mod bursts;
pub(crate) mod cancel;
pub(crate) mod failures;
pub(crate) mod leases;
pub(crate) mod limits;
pub(crate) mod reports;

/// Emits one `#[test]` per scenario for the store that `$factory` (an expression yielding
/// `Option<Fixture>`, `None` to skip) makes.
#[macro_export]
macro_rules! host_scenarios {
    ($factory:expr) => {
        fn factory() -> Option<$crate::support::Fixture> {
            $factory
        }
        $crate::host_scenarios!(@tests
            basics::quick_start,
            basics::handlers_registered_at_runtime_run,
            basics::state_and_restart,
            basics::per_kind_and_global_concurrency_hold,
            basics::an_attempt_is_active_until_its_final_write_lands,
            basics::a_claim_short_for_a_finishing_task_is_made_again,
            basics::store_calls_stay_off_runtime_workers,
            basics::bulk_enqueue_runs_every_task,
            bursts::attempts_ending_together_each_end_as_alone,
            failures::retries_then_success,
            failures::retries_exhausted,
            failures::fatal_failure_is_not_retried,
            failures::panic_is_a_failed_attempt,
            failures::bad_input_fails_at_once_naming_the_field,
            failures::timeout_fails_with_code_timeout,
            failures::unknown_kind_is_failed,
            cancel::cancel_queued_task,
            cancel::cancel_running_task,
            cancel::cancel_of_ignoring_handler_ends_after_grace,
            cancel::supersede_running_task,
            leases::lease_loss_stops_the_execution,
            leases::watchdog_stale_then_recovery,
            leases::own_expired_attempt_is_recovered_and_run_again,
            leases::stop_drains_then_releases,
            reports::progress_is_coalesced_and_steps_kept_in_order,
            reports::progress_events_are_paced_and_the_last_is_told,
            reports::retention_runs_on_its_interval,
            limits::a_step_flood_is_capped_and_counted,
        );
    };
    (@tests $($group:ident :: $name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::support::run(stringify!($name), factory, $crate::scenarios::$group::$name);
            }
        )+
    };
}
