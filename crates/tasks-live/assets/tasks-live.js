// tasks-live.js: subscribe to a tasks live bridge from a browser (or any runtime with
// EventSource, fetch or WebSocket) and keep the state with the tracker's rules. No
// dependencies; an ES module.
//
// Tracker rules (the same as the Rust TaskLiveTracker):
// - a bootstrap replaces the set of tasks, except that a snapshot already held with a higher
//   revision is kept (an event can overtake a slow bootstrap read);
// - an event's snapshot replaces the held one only when its revision is higher (for a progress
//   event, equal and different is enough); a task that no
//   longer passes the subscription's filter is dropped;
// - steps accumulate per task by seq; a step already held is ignored; at most
//   maxStepsPerTask of the most recent are kept;
// - the aggregate is recomputed from the held snapshots;
// - listeners are told after every message that changed something.

export const DEFAULT_MAX_STEPS_PER_TASK = 1000;

const STATES = ["queued", "claimed", "running", "retrying", "succeeded", "failed", "cancelled", "stale"];
const STATUSES = ["queued", "claimed", "running", "succeeded", "failed", "cancelled"];

function list(value) {
  return Array.isArray(value) ? value : [];
}

/** Whether `snapshot` passes the filter of `query` (the same rule as the server's). */
export function matchesFilter(query, snapshot) {
  if (!query) return true;
  const anyOf = (wanted, value) => list(wanted).length === 0 || list(wanted).includes(value);
  const key = (wanted, value) => wanted === undefined || wanted === null || wanted === value;
  const channels = list(query.channels).map((channel) => String(channel).trim());
  return anyOf(query.taskIds, snapshot.taskId)
    && anyOf(query.kinds, snapshot.kind)
    && (channels.length === 0 || channels.some((channel) => list(snapshot.channels).includes(channel)))
    && anyOf(query.states, snapshot.state)
    && anyOf(query.statuses, snapshot.status)
    && key(query.dedupeKey, snapshot.dedupeKey)
    && key(query.concurrencyKey, snapshot.concurrencyKey)
    && key(query.supersedeKey, snapshot.supersedeKey);
}

/** Counts by lifecycle state, status and kind, as the server's aggregate. */
export function aggregateOf(snapshots) {
  const aggregate = { total: 0, byState: {}, byStatus: {}, byKind: {}, updatedAt: null };
  for (const state of STATES) aggregate.byState[state] = 0;
  for (const status of STATUSES) aggregate.byStatus[status] = 0;
  for (const snapshot of snapshots) {
    aggregate.total += 1;
    aggregate.byState[snapshot.state] = (aggregate.byState[snapshot.state] || 0) + 1;
    aggregate.byStatus[snapshot.status] = (aggregate.byStatus[snapshot.status] || 0) + 1;
    aggregate.byKind[snapshot.kind] = (aggregate.byKind[snapshot.kind] || 0) + 1;
    if (aggregate.updatedAt === null || snapshot.updatedAt > aggregate.updatedAt) {
      aggregate.updatedAt = snapshot.updatedAt;
    }
  }
  return aggregate;
}

/** The spec's createTaskLiveTracker. */
export function createTaskLiveTracker(options = {}) {
  const maxSteps = Math.max(1, options.maxStepsPerTask || DEFAULT_MAX_STEPS_PER_TASK);
  let query = null;
  let cursor = null;
  let snapshots = new Map();
  const steps = new Map();
  const listeners = new Set();

  function addStep(step) {
    if (!step || !snapshots.has(step.taskId)) return false;
    let held = steps.get(step.taskId);
    if (!held) {
      held = new Map();
      steps.set(step.taskId, held);
    }
    if (held.has(step.seq)) return false;
    if (held.size >= maxSteps && Math.min(...held.keys()) > step.seq) return false;
    held.set(step.seq, step);
    while (held.size > maxSteps) held.delete(Math.min(...held.keys()));
    return true;
  }

  // A progress event may carry the revision of the last write (the host reports progress at
  // once and writes it coalesced): at an equal revision it still replaces a different snapshot.
  function applySnapshot(snapshot, equalIsNewer) {
    const held = snapshots.get(snapshot.taskId);
    if (held && held.revision > snapshot.revision) return false;
    if (held && held.revision === snapshot.revision &&
        (!equalIsNewer || JSON.stringify(held) === JSON.stringify(snapshot))) return false;
    const wanted = matchesFilter(query, snapshot);
    if (!wanted) {
      if (!held) return false;
      snapshots.delete(snapshot.taskId);
      steps.delete(snapshot.taskId);
      return true;
    }
    snapshots.set(snapshot.taskId, snapshot);
    return true;
  }

  function applyBootstrap(bootstrap) {
    const before = JSON.stringify(getState());
    const next = new Map();
    for (const snapshot of list(bootstrap.snapshots)) {
      const held = snapshots.get(snapshot.taskId);
      next.set(snapshot.taskId, held && held.revision > snapshot.revision ? held : snapshot);
    }
    snapshots = next;
    for (const id of [...steps.keys()]) if (!snapshots.has(id)) steps.delete(id);
    query = bootstrap.query || null;
    if (bootstrap.cursor) cursor = bootstrap.cursor;
    for (const taskSteps of Object.values(bootstrap.steps || {})) {
      for (const step of list(taskSteps)) addStep(step);
    }
    return JSON.stringify(getState()) !== before;
  }

  function getState() {
    const held = [...snapshots.values()].sort((a, b) => {
      if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
      return a.taskId < b.taskId ? 1 : a.taskId > b.taskId ? -1 : 0;
    });
    const byTask = {};
    for (const id of [...steps.keys()].sort()) {
      byTask[id] = [...steps.get(id).values()].sort((a, b) => a.seq - b.seq);
    }
    return { snapshots: held, steps: byTask, aggregate: aggregateOf(held) };
  }

  function apply(message) {
    let changed = false;
    if (message && message.type === "bootstrap") {
      changed = applyBootstrap(message);
    } else if (message && message.type === "event" && message.event) {
      if (message.event.snapshot) {
        const equalIsNewer = message.event.event === "progress";
        changed = applySnapshot(message.event.snapshot, equalIsNewer) || changed;
      }
      if (message.event.step) changed = addStep(message.event.step) || changed;
    }
    if (message && typeof message.cursor === "string") cursor = message.cursor;
    if (changed && listeners.size > 0) {
      const state = getState();
      for (const listener of listeners) listener(state);
    }
    return changed;
  }

  return {
    apply,
    getState,
    snapshot: (taskId) => snapshots.get(taskId),
    cursor: () => cursor,
    setCursor: (next) => { if (next) cursor = next; },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** The query string of a subscription query (and a resume cursor). */
export function queryString(query = {}, cursor = null) {
  const params = new URLSearchParams();
  params.set("q", JSON.stringify(query));
  if (cursor) params.set("cursor", cursor);
  return params.toString();
}

function parseSse(buffer, onEvent) {
  // Returns what is left of `buffer` after its complete events.
  let rest = buffer.replace(/\r\n?/g, "\n");
  let end;
  while ((end = rest.indexOf("\n\n")) >= 0) {
    const block = rest.slice(0, end);
    rest = rest.slice(end + 2);
    const data = [];
    let id = null;
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") data.push(value);
      if (field === "id") id = value;
    }
    if (data.length > 0 || id !== null) onEvent(data.join("\n"), id);
  }
  return rest;
}

/**
 * Subscribes to a bridge at `baseUrl` (where its routes are mounted) and applies every
 * message to a tracker. Options: transport ("sse" with EventSource, "fetch" for SSE over
 * fetch with custom headers, or "ws"), tracker, headers (fetch), onMessage(message),
 * onState(state), onError(error), retryMs (default 1000). Returns { tracker, close }.
 * A reconnect resumes from the last cursor, so nothing is missed.
 */
export function subscribeTaskLive(baseUrl, query = {}, options = {}) {
  const tracker = options.tracker || createTaskLiveTracker(options);
  const transport = options.transport || (typeof EventSource !== "undefined" ? "sse" : "fetch");
  const retryMs = options.retryMs ?? 1000;
  const base = String(baseUrl).replace(/\/$/, "");
  let closed = false;
  let close = () => {};
  let retry = null;
  if (options.onState) tracker.onChange(options.onState);

  const handle = (text, id) => {
    if (!text) {
      if (id) tracker.setCursor(id);
      return;
    }
    let message;
    try {
      message = JSON.parse(text);
    } catch (error) {
      if (options.onError) options.onError(error);
      return;
    }
    tracker.apply(message);
    if (id) tracker.setCursor(id);
    if (options.onMessage) options.onMessage(message);
  };
  const later = (start) => {
    if (closed) return;
    retry = setTimeout(start, retryMs);
  };

  if (transport === "sse") {
    // EventSource reconnects by itself, sending Last-Event-ID.
    const source = new EventSource(`${base}/events?${queryString(query)}`);
    source.onmessage = (event) => handle(event.data, event.lastEventId || null);
    source.onerror = (error) => { if (options.onError) options.onError(error); };
    close = () => source.close();
  } else if (transport === "fetch") {
    let controller = null;
    const start = async () => {
      controller = new AbortController();
      try {
        const headers = { accept: "text/event-stream", ...(options.headers || {}) };
        const url = `${base}/events?${queryString(query, tracker.cursor())}`;
        const response = await fetch(url, { headers, signal: controller.signal });
        if (!response.ok) throw new Error(`tasks-live: HTTP ${response.status}`);
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer = parseSse(buffer + decoder.decode(value, { stream: true }), handle);
        }
      } catch (error) {
        if (closed) return;
        if (options.onError) options.onError(error);
      }
      later(start);
    };
    start();
    close = () => { if (controller) controller.abort(); };
  } else if (transport === "ws") {
    let socket = null;
    const start = () => {
      const url = new URL(`${base}/ws?${queryString(query, tracker.cursor())}`, globalThis.location?.href);
      url.protocol = url.protocol.replace(/^http/, "ws");
      socket = new WebSocket(url.toString());
      socket.onmessage = (event) => handle(String(event.data), null);
      socket.onerror = (error) => { if (options.onError) options.onError(error); };
      socket.onclose = () => later(start);
    };
    start();
    close = () => { if (socket) socket.close(); };
  } else {
    throw new Error(`tasks-live: unknown transport ${transport}`);
  }

  return {
    tracker,
    close() {
      closed = true;
      if (retry) clearTimeout(retry);
      close();
    },
  };
}
