// The browser module's tracker follows the same rules as the Rust tracker.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createTaskLiveTracker, matchesFilter, queryString } from "../../assets/tasks-live.js";

const T0 = "2026-01-01T00:00:00.000Z";

function snapshot(id, revision, status, extra = {}) {
  const state = extra.state || status;
  return {
    taskId: id, kind: extra.kind || "k", status, state, channels: extra.channels || [],
    dedupeKey: null, concurrencyKey: null, supersedeKey: null,
    createdAt: extra.createdAt || T0, updatedAt: extra.updatedAt || T0, revision,
    progress: { state, percent: null },
  };
}
const bootstrap = (snapshots, query = {}, steps = {}) =>
  ({ type: "bootstrap", query, snapshots, steps, aggregate: null, timestamp: T0 });
const event = (name, snap, step = null) => ({
  type: "event", timestamp: T0,
  event: { type: "task.lifecycle", event: name, taskId: snap.taskId, kind: snap.kind, snapshot: snap, step, revision: snap.revision, channels: [] },
});
const step = (taskId, seq) => ({ id: `s${seq}`, taskId, seq, attempt: 1, kind: "step", level: "info", message: `step ${seq}`, createdAt: T0 });

test("events older than what is held are ignored", () => {
  const tracker = createTaskLiveTracker();
  tracker.apply(bootstrap([snapshot("a", 5, "running")]));
  assert.equal(tracker.apply(event("claimed", snapshot("a", 3, "claimed"))), false);
  assert.equal(tracker.apply(event("progress", snapshot("a", 5, "running"))), false);
  assert.equal(tracker.apply(event("succeeded", snapshot("a", 6, "succeeded"))), true);
  const state = tracker.getState();
  assert.equal(state.snapshots[0].status, "succeeded");
  assert.equal(state.aggregate.byState.succeeded, 1);
  assert.equal(state.aggregate.total, 1);
});

test("a bootstrap never regresses a newer snapshot", () => {
  const tracker = createTaskLiveTracker();
  tracker.apply(bootstrap([]));
  tracker.apply(event("enqueued", snapshot("a", 1, "queued")));
  tracker.apply(event("started", snapshot("a", 4, "running")));
  tracker.apply(bootstrap([snapshot("a", 2, "claimed")]));
  assert.equal(tracker.snapshot("a").revision, 4);
});

test("steps accumulate by seq without duplicates and stay bounded", () => {
  const tracker = createTaskLiveTracker({ maxStepsPerTask: 3 });
  tracker.apply(bootstrap([snapshot("a", 1, "running")]));
  for (const [revision, seq] of [[2, 1], [3, 3], [4, 2], [4, 2], [5, 4]]) {
    tracker.apply(event("step", snapshot("a", revision, "running"), step("a", seq)));
  }
  assert.deepEqual(tracker.getState().steps.a.map((s) => s.seq), [2, 3, 4]);
});

test("tasks leaving the filter are dropped and new matching ones added", () => {
  const tracker = createTaskLiveTracker();
  tracker.apply(bootstrap([snapshot("a", 3, "running")], { states: ["running"] }));
  tracker.apply(event("succeeded", snapshot("a", 4, "succeeded")));
  assert.equal(tracker.snapshot("a"), undefined);
  assert.equal(tracker.apply(event("enqueued", snapshot("b", 1, "queued"))), false);
  tracker.apply(event("started", snapshot("b", 3, "running")));
  const state = tracker.getState();
  assert.equal(state.snapshots.length, 1);
  assert.equal(state.aggregate.byKind.k, 1);
});

test("listeners hear changes only, and cursors are kept", () => {
  const tracker = createTaskLiveTracker();
  const heard = [];
  const off = tracker.onChange((state) => heard.push(state.snapshots.length));
  tracker.apply({ ...bootstrap([snapshot("a", 1, "queued")]), cursor: "7" });
  tracker.apply(event("enqueued", snapshot("a", 1, "queued")));
  off();
  tracker.apply(event("claimed", snapshot("a", 2, "claimed")));
  assert.deepEqual(heard, [1]);
  assert.equal(tracker.cursor(), "7");
  tracker.apply({ ...event("started", snapshot("a", 3, "running")), cursor: "9" });
  assert.equal(tracker.cursor(), "9");
});

test("filters and query strings", () => {
  const snap = snapshot("a", 1, "queued", { channels: ["scope:x"] });
  assert.equal(matchesFilter({ channels: [" scope:x "] }, snap), true);
  assert.equal(matchesFilter({ channels: ["scope:y"] }, snap), false);
  assert.equal(matchesFilter({ kinds: ["k"], dedupeKey: "d" }, snap), false);
  const params = new URLSearchParams(queryString({ kinds: ["k"] }, "42"));
  assert.deepEqual(JSON.parse(params.get("q")), { kinds: ["k"] });
  assert.equal(params.get("cursor"), "42");
});
