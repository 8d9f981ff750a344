// common.js: what every part of the dashboard page shares: where the server is, the page's
// view state (kept in the address's hash, so a view can be bookmarked), the JSON API client,
// and small builders and formatters. Task data only ever goes into the page as text.

export const BASE = new URL("../", import.meta.url);
export const LIVE = new URL("live", BASE).href;
export const PAGE_SIZE = 50;
export const STATES = ["queued", "claimed", "running", "retrying", "stale", "succeeded", "failed", "cancelled"];
export const CANCELLABLE = new Set(["queued", "claimed", "running", "retrying", "stale"]);

export const $ = (id) => document.getElementById(id);

/** An element with optional text content and class. */
export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

// ---- State of the page ----------------------------------------------------------------

export const view = {
  filter: { state: "", kind: "", channel: "" },
  offset: 0,
  total: 0,
  rows: new Map(), // taskId -> { row, snapshot }
  newTasks: 0, // tasks created since the page was read, passing the filter, not shown
  aggregate: null, // the last counts read
  selected: null,
};

export function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  view.filter = {
    state: params.get("state") || "",
    kind: params.get("kind") || "",
    channel: params.get("channel") || "",
  };
  const offset = Number.parseInt(params.get("offset") || "0", 10);
  view.offset = Number.isFinite(offset) && offset > 0 ? offset : 0;
  return params.get("task") || null;
}

export function writeHash(changes) {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === "" || value === 0) params.delete(key);
    else params.set(key, String(value));
  }
  const hash = params.toString();
  // Assigning the hash fires `hashchange`, which reads it back and renders: one path for
  // clicks, the back button and pasted links.
  location.hash = hash;
  if (!hash) history.replaceState(null, "", location.pathname + location.search);
}

export function setFilter(changes) {
  writeHash({ ...changes, offset: 0 });
}

// ---- The API --------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export async function api(path, init = {}) {
  const headers = { accept: "application/json" };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(new URL(path, BASE), {
    credentials: "same-origin",
    ...init,
    headers,
  });
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = body && body.error ? body.error : {};
    throw new ApiError(error.message || `HTTP ${response.status}`, error.code || "http", response.status);
  }
  return body;
}

export function showNotice(text) {
  const notice = $("notice");
  notice.textContent = text;
  notice.hidden = !text;
}

export function filterParams() {
  const params = new URLSearchParams();
  if (view.filter.state) params.set("state", view.filter.state);
  if (view.filter.kind) params.set("kind", view.filter.kind);
  if (view.filter.channel) params.set("channel", view.filter.channel);
  return params;
}

/** The table's filter as a subscription query, for tasks-live's matchesFilter. */
export function filterQuery() {
  return {
    states: view.filter.state ? [view.filter.state] : [],
    kinds: view.filter.kind ? [view.filter.kind] : [],
    channels: view.filter.channel ? [view.filter.channel] : [],
  };
}

// ---- Formatting ---------------------------------------------------------------------------

export function age(iso) {
  const ms = Date.now() - Date.parse(iso);
  if (!Number.isFinite(ms)) return "";
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d`;
}

export function shortId(id) {
  return id.length > 12 ? `…${id.slice(-10)}` : id;
}

export function percentText(snapshot) {
  const percent = snapshot.progress ? snapshot.progress.percent : null;
  return typeof percent === "number" ? `${Math.round(percent)}%` : "";
}

/** Shows a snapshot's progress on a <progress>: its percent, moving when running without one. */
export function setProgress(bar, snapshot) {
  const percent = snapshot.progress ? snapshot.progress.percent : null;
  if (typeof percent === "number") {
    bar.value = percent;
  } else if (snapshot.state === "running" || snapshot.state === "claimed") {
    bar.removeAttribute("value");
  } else {
    bar.value = snapshot.state === "succeeded" ? 100 : 0;
  }
  bar.dataset.percent = typeof percent === "number" ? String(percent) : "";
}

export function json(value) {
  return JSON.stringify(value, null, 2);
}

export function statePill(state, node = el("span")) {
  node.className = "state-pill";
  node.dataset.state = state;
  node.textContent = state;
  return node;
}
