//! 32-way dedupe: 32 callers, spread over 8 store handles (8 "processes"), enqueue the same
//! kind and dedupe key behind a barrier, round after round; a quarter of them through a
//! one-task batch. Exactly one call creates the task, the others get it back as `reused`, and
//! the probe finds one open task per key.

use std::sync::{Arc, Barrier, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::json;
use tasks_core::{
    EnqueueDisposition, EnqueueOptions, EnqueueOutcome, NewTask, TaskStore, Timestamp,
};

use crate::abuse_support::stats::Latencies;
use crate::abuse_support::store::StoreUnderTest;
use crate::{Report, Violation, ensure};

const KIND: &str = "race.dedupe";
const WAYS: usize = 32;
const HANDLES: usize = 8;

/// What one caller saw in one round.
struct Call {
    round: u32,
    outcome: Result<EnqueueOutcome, String>,
    took: Duration,
}

pub(super) fn run(
    store: &StoreUnderTest,
    rounds: u32,
    report: &mut Report,
) -> Result<(), Violation> {
    let handles: Vec<Arc<dyn TaskStore>> =
        (0..HANDLES).map(|_| store.open(WAYS as u32 / HANDLES as u32)).collect::<Result<_, _>>()?;
    let barrier = Barrier::new(WAYS);
    let calls = Mutex::new(Vec::with_capacity(WAYS * rounds as usize));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for way in 0..WAYS {
            let (store, barrier, calls) = (&handles[way % HANDLES], &barrier, &calls);
            scope.spawn(move || {
                for round in 0..rounds {
                    barrier.wait();
                    let task = NewTask::new(KIND, json!({ "way": way, "round": round }))
                        .with_options(EnqueueOptions::new().dedupe_key(format!("round-{round}")));
                    let begin = Instant::now();
                    let outcome = if way % 4 == 3 {
                        store.enqueue_batch(vec![task], Timestamp::now_utc()).and_then(|mut all| {
                            all.pop().ok_or_else(|| tasks_core::StoreError::Backend {
                                message: "a one-task batch returned no outcome".into(),
                                source: None,
                            })
                        })
                    } else {
                        store.enqueue(task, Timestamp::now_utc())
                    };
                    let call = Call {
                        round,
                        outcome: outcome.map_err(|error| error.to_string()),
                        took: begin.elapsed(),
                    };
                    calls.lock().unwrap_or_else(PoisonError::into_inner).push(call);
                }
            });
        }
    });
    let took = started.elapsed();
    let calls = calls.into_inner().unwrap_or_else(PoisonError::into_inner);
    let mut created = 0u64;
    let mut reused = 0u64;
    for round in 0..rounds {
        let of_round: Vec<&Call> = calls.iter().filter(|call| call.round == round).collect();
        let mut ids = Vec::new();
        let mut creators = 0;
        for call in &of_round {
            let outcome = call.outcome.as_ref().map_err(|error| {
                Violation(format!("dedupe round {round}: an enqueue failed: {error}"))
            })?;
            match outcome.disposition {
                EnqueueDisposition::Created => creators += 1,
                EnqueueDisposition::Reused => {
                    ensure!(
                        outcome.deduplicated
                            && outcome.reused_task_id.as_ref() == Some(&outcome.task.id),
                        "dedupe round {round}: a reused outcome does not name its task"
                    );
                }
                other => {
                    return Err(Violation(format!("dedupe round {round}: disposition {other:?}")));
                }
            }
            ids.push(outcome.task.id.clone());
        }
        ids.sort();
        ids.dedup();
        ensure!(
            creators == 1 && ids.len() == 1,
            "dedupe round {round}: {creators} of {WAYS} enqueues created a task, {} distinct ids",
            ids.len()
        );
        created += 1;
        reused += of_round.len() as u64 - 1;
    }
    let mut probe = store.probe()?;
    let open = probe.open_per_dedupe_key(KIND)?;
    ensure!(
        open.len() == rounds as usize && open.values().all(|count| *count == 1),
        "dedupe: the probe found {} dedupe keys with open tasks (want {rounds}), most on one key {}",
        open.len(),
        open.values().max().copied().unwrap_or(0)
    );
    let latencies: Vec<Duration> = calls.iter().map(|call| call.took).collect();
    report.say(format!(
        "dedupe: {rounds} rounds of {WAYS} simultaneous enqueues of one dedupe key over \
         {HANDLES} store handles"
    ));
    report.figure("dedupe created / reused", format!("{created} / {reused}"));
    report.figure("dedupe enqueue latency", Latencies::of(&latencies));
    report.figure("dedupe time", format!("{:.2} s", took.as_secs_f64()));
    Ok(())
}
