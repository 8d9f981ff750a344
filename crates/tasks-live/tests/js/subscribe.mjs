// End to end: subscribes to a bridge over WebSocket and over fetch-SSE, prints READY once
// both have their bootstrap, then reads the expected state (a fresh read, as the tracker's
// state) from stdin and waits until both trackers hold exactly it. Prints OK or FAIL.
import { subscribeTaskLive } from "../../assets/tasks-live.js";

const base = process.argv[2];
const query = { recentSteps: 100 };
const ready = new Set();
const live = ["ws", "fetch"].map((transport) => {
  const subscription = subscribeTaskLive(base, query, {
    transport,
    retryMs: 100,
    onMessage(message) {
      if (message.type === "bootstrap" && !ready.has(transport)) {
        ready.add(transport);
        if (ready.size === 2) console.log("READY");
      }
    },
  });
  return { transport, subscription };
});

function summary(state) {
  return JSON.stringify({
    snapshots: state.snapshots.map((s) => [s.taskId, s.revision, s.state, s.progress.percent]),
    steps: Object.fromEntries(Object.entries(state.steps).map(([id, steps]) => [id, steps.map((s) => s.seq)])),
    total: state.aggregate.total,
    // Key order differs between encoders: compare the counts in a fixed order.
    byState: ["queued", "claimed", "running", "retrying", "succeeded", "failed", "cancelled", "stale"]
      .map((name) => state.aggregate.byState[name]),
  });
}

let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const expected = summary(JSON.parse(input));
  const deadline = Date.now() + 20000;
  const check = () => {
    const pending = live.filter(({ subscription }) => summary(subscription.tracker.getState()) !== expected);
    if (pending.length === 0) {
      console.log("OK");
      for (const { subscription } of live) subscription.close();
      process.exit(0);
    }
    if (Date.now() > deadline) {
      for (const { transport, subscription } of pending) {
        console.log(`FAIL ${transport} ${summary(subscription.tracker.getState())} != ${expected}`);
      }
      process.exit(1);
    }
    setTimeout(check, 20);
  };
  check();
});
