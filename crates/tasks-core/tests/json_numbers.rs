//! Numbers survive JSON exactly: a task's input, a progress percent or a step's percent read
//! back from JSON (a store's stored document, a live message a client decodes) is the very
//! `f64` that was written. serde_json's default float parser may be off by one ulp, which
//! changed about one progress percent in ten; the workspace turns on its `float_roundtrip`.

use serde_json::{Value, json};
use tasks_core::{NewTask, TaskRecord, Timestamp};

/// Every percent a task reporting `done` of `total` units computes, for totals below 300.
fn percents() -> impl Iterator<Item = f64> {
    (1..300u32)
        .flat_map(|total| (0..=total).map(move |done| f64::from(done) * 100.0 / f64::from(total)))
}

#[test]
fn every_percent_round_trips_exactly() {
    let drifted: Vec<f64> = percents()
        .filter(|percent| {
            let text = serde_json::to_string(percent).expect("a finite number encodes");
            serde_json::from_str::<f64>(&text).ok() != Some(*percent)
        })
        .take(5)
        .collect();
    assert!(drifted.is_empty(), "percents that came back different: {drifted:?}");
}

#[test]
fn a_record_with_fractional_numbers_round_trips_exactly() {
    let numbers: Vec<Value> = percents().step_by(7).map(|percent| json!(percent)).collect();
    let record = NewTask::new("numbers", json!({ "numbers": numbers, "third": 1.0 / 3.0 }))
        .into_record(Timestamp::from_millis(1_700_000_000_000))
        .expect("a valid task");
    let text = serde_json::to_string(&record).expect("encodes");
    let back: TaskRecord = serde_json::from_str(&text).expect("decodes");
    assert_eq!(back, record);
}
