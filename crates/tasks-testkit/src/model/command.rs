//! The commands of the model-based test and their random generation.

use proptest::prelude::*;

/// One step of a generated sequence. Small integers pick among a few kinds, keys and the
/// leases the sequence has been handed so far, so sequences collide on purpose: dedupe hits,
/// busy concurrency keys, stale leases.
#[derive(Clone, Debug)]
pub(crate) enum Command {
    Enqueue {
        kind: u8,
        dedupe: Option<u8>,
        concurrency: Option<u8>,
        supersede: Option<u8>,
        priority: i8,
        delay_ms: Option<u16>,
        max_attempts: u8,
    },
    EnqueueBatch {
        count: u8,
        dedupe: Option<u8>,
    },
    /// `claim`, or `claim_and_start` when `start`.
    Claim {
        limit: u8,
        kind: Option<u8>,
        kind_max_active: Option<u8>,
        max_active: Option<u8>,
        lease_ms: u16,
        start: bool,
    },
    Start {
        lease: u8,
    },
    Heartbeat {
        lease: u8,
        lease_ms: u16,
    },
    Progress {
        lease: u8,
        percent: u8,
        label: bool,
    },
    Steps {
        lease: u8,
        count: u8,
    },
    Complete {
        lease: u8,
    },
    Fail {
        lease: u8,
        retry_ms: Option<u16>,
    },
    AcknowledgeCancel {
        lease: u8,
    },
    Release {
        lease: u8,
    },
    /// A write with a lease whose task has since been claimed again: fencing must refuse it.
    StaleWrite {
        lease: u8,
        complete: bool,
    },
    Cancel {
        task: u8,
    },
    /// An operator's "retry now" of a task.
    Retry {
        task: u8,
    },
    /// `start_batch` over the picked leases.
    StartBatch {
        leases: Vec<u8>,
    },
    /// `finish_batch` over the picked leases: 0 completes, 1 fails with a retry, 2 fails for
    /// good, 3 acknowledges a cancel.
    FinishBatch {
        items: Vec<(u8, u8)>,
    },
    Advance {
        ms: u16,
    },
    RecoverExpired {
        limit: u8,
    },
    MarkStale {
        silent_ms: u16,
    },
    Compact {
        success_ttl_ms: Option<u16>,
        keep_latest: Option<u8>,
        step_limit: Option<u8>,
    },
}

fn small(max: u8) -> impl Strategy<Value = u8> {
    0..max
}

/// A random command.
pub(crate) fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        6 => (small(3), proptest::option::weighted(0.3, small(3)), proptest::option::weighted(0.3, small(2)),
              proptest::option::weighted(0.15, small(2)), -2i8..3, proptest::option::weighted(0.2, 1u16..3000), 1u8..4)
            .prop_map(|(kind, dedupe, concurrency, supersede, priority, delay_ms, max_attempts)| {
                Command::Enqueue { kind, dedupe, concurrency, supersede, priority, delay_ms, max_attempts }
            }),
        1 => (1u8..5, proptest::option::weighted(0.3, small(3)))
            .prop_map(|(count, dedupe)| Command::EnqueueBatch { count, dedupe }),
        5 => (1u8..6, proptest::option::weighted(0.3, small(3)), proptest::option::weighted(0.2, 1u8..3),
              proptest::option::weighted(0.2, 1u8..4), 500u16..5000, proptest::bool::weighted(0.3))
            .prop_map(|(limit, kind, kind_max_active, max_active, lease_ms, start)| {
                Command::Claim { limit, kind, kind_max_active, max_active, lease_ms, start }
            }),
        3 => any::<u8>().prop_map(|lease| Command::Start { lease }),
        2 => (any::<u8>(), 500u16..5000).prop_map(|(lease, lease_ms)| Command::Heartbeat { lease, lease_ms }),
        2 => (any::<u8>(), 0u8..=100, any::<bool>()).prop_map(|(lease, percent, label)| Command::Progress { lease, percent, label }),
        2 => (any::<u8>(), 1u8..4).prop_map(|(lease, count)| Command::Steps { lease, count }),
        3 => any::<u8>().prop_map(|lease| Command::Complete { lease }),
        2 => (any::<u8>(), proptest::option::weighted(0.6, prop_oneof![Just(0u16), 0u16..3000])).prop_map(|(lease, retry_ms)| Command::Fail { lease, retry_ms }),
        1 => any::<u8>().prop_map(|lease| Command::AcknowledgeCancel { lease }),
        2 => any::<u8>().prop_map(|lease| Command::Release { lease }),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(lease, complete)| Command::StaleWrite { lease, complete }),
        2 => any::<u8>().prop_map(|task| Command::Cancel { task }),
        2 => any::<u8>().prop_map(|task| Command::Retry { task }),
        2 => proptest::collection::vec(any::<u8>(), 0..5).prop_map(|leases| Command::StartBatch { leases }),
        2 => proptest::collection::vec((any::<u8>(), 0u8..4), 0..5).prop_map(|items| Command::FinishBatch { items }),
        3 => (1u16..4000).prop_map(|ms| Command::Advance { ms }),
        1 => (1u8..5).prop_map(|limit| Command::RecoverExpired { limit }),
        1 => (100u16..4000).prop_map(|silent_ms| Command::MarkStale { silent_ms }),
        1 => (proptest::option::of(0u16..5000), proptest::option::of(0u8..3), proptest::option::of(0u8..3))
            .prop_map(|(success_ttl_ms, keep_latest, step_limit)| Command::Compact { success_ttl_ms, keep_latest, step_limit }),
    ]
}
