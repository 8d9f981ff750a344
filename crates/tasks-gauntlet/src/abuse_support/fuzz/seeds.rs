//! The corpus each target starts from: valid examples of what it reads, built from the real
//! types where there are some, so mutations start close to what parsers see in practice.

use serde_json::json;
use tasks_core::{
    EnqueueOptions, LifecycleEventName, NewTask, StepRecord, SubscriptionQuery, TaskLifecycleEvent,
    TaskListQuery, TaskLiveMessage, TaskOrder, TaskSnapshot, TaskSubscriptionBootstrap, Timestamp,
};

use super::Target;

/// The seed inputs of `target`.
pub(super) fn corpus(target: Target) -> Vec<Vec<u8>> {
    match target {
        Target::ProcessStdout => stdout(),
        Target::LiveMessage => live(),
        Target::SubscriptionQuery => subscription(),
        Target::TaskQuery => task_query(),
    }
}

fn stdout() -> Vec<Vec<u8>> {
    [
        "plain line\n",
        "{\"type\":\"progress\",\"percent\":40,\"label\":\"encoding\",\"meta\":{\"frame\":3}}\n",
        "{\"type\":\"step\",\"message\":\"part 1\",\"kind\":\"checkpoint\",\"level\":\"success\",\"percent\":50}\n",
        "{\"type\":\"heartbeat\"}\n",
        "{\"type\":\"result\",\"output\":{\"path\":\"/tmp/out.json\",\"n\":[1,2.5,null,true]}}\n",
        "{\"type\":\"error\",\"message\":\"bad\",\"code\":\"E1\",\"retryable\":false,\"details\":{}}\n",
        "one\r\ntwo\n\n{\"type\":\"step\",\"message\":\"m\"}\nno newline",
    ]
    .iter()
    .map(|text| text.as_bytes().to_vec())
    .collect()
}

fn live() -> Vec<Vec<u8>> {
    let at = Timestamp::from_millis(1_700_000_000_000);
    let Ok(record) = NewTask::new("report.generate", json!({ "reportId": "r1" }))
        .with_options(EnqueueOptions::new().channel("scope:a").dedupe_key("d"))
        .into_record(at)
    else {
        return Vec::new();
    };
    let snapshot = TaskSnapshot::from_record(&record);
    let step: Option<StepRecord> = serde_json::from_value(json!({
        "id": "s1", "taskId": record.id.as_str(), "seq": 1, "attempt": 1, "kind": "step",
        "level": "info", "message": "hello", "percent": 10.0, "createdAt": at.to_rfc3339()
    }))
    .ok();
    let mut event = TaskLifecycleEvent::of(LifecycleEventName::Progress, snapshot.clone(), at);
    event.step = step.clone();
    let bootstrap = TaskSubscriptionBootstrap {
        query: SubscriptionQuery::default(),
        snapshots: vec![snapshot],
        steps: step.map(|step| (record.id.to_string(), vec![step])).into_iter().collect(),
        aggregate: None,
        cursor: None,
        timestamp: at,
    };
    [TaskLiveMessage::Event { event, timestamp: at }, TaskLiveMessage::Bootstrap(bootstrap)]
        .iter()
        .filter_map(|message| serde_json::to_vec(message).ok())
        .collect()
}

fn subscription() -> Vec<Vec<u8>> {
    let json = serde_json::to_string(&SubscriptionQuery {
        limit: Some(50),
        recent_steps: Some(20),
        include_aggregate: Some(true),
        ..SubscriptionQuery::default()
    })
    .unwrap_or_default();
    [
        "kinds=a,b&kind=c&channels=scope%3Ax&states=running,stale&statuses=queued&limit=5",
        "dedupeKey=d&concurrencyKey=k&supersedeKey=s&recentSteps=20&includeAggregate=false&cursor=42",
        "taskIds=01HZX,01HZY&q=%7B%22kinds%22%3A%5B%22a%22%5D%7D",
        r#"{"kinds":["a"],"channels":["scope:x"],"states":["queued"],"limit":10}"#,
        &json,
    ]
    .iter()
    .map(|text| text.as_bytes().to_vec())
    .collect()
}

fn task_query() -> Vec<Vec<u8>> {
    let mut query = TaskListQuery::all().limit(20).offset(5).order(TaskOrder::UpdatedDesc);
    query.filter.kinds = vec!["a".into(), "b.c".into()];
    query.filter.channels = vec!["scope:x".into()];
    query.filter.dedupe_key = Some("key".into());
    let mut seeds: Vec<Vec<u8>> = serde_json::to_vec(&query).into_iter().collect();
    seeds.push(
        br#"{"statuses":["queued","running"],"states":["retrying"],"orderBy":"scheduled_asc"}"#
            .to_vec(),
    );
    seeds.push(
        br#"{"taskIds":["t1","t2"],"concurrencyKey":"k","supersedeKey":"s","limit":10000}"#
            .to_vec(),
    );
    seeds
}
