// detail.js: the task detail panel: its own live subscription to one task (snapshot and
// recent steps), so the step log keeps growing while it is open; earlier steps on demand;
// the cancel and retry-now buttons.

import { createTaskLiveTracker, subscribeTaskLive } from "../live/tasks-live.js";
import { $, CANCELLABLE, LIVE, api, el, json, percentText, setProgress, statePill, view } from "./common.js";
import { scheduleAggregate } from "./counts.js";
import { applyToRow } from "./table.js";

const DETAIL_STEPS = 500;
const EARLIER_STEPS = 200;

const detail = {
  live: null,
  taskId: null,
  earlier: [], // steps read with "load earlier", before the tracker's
  renderedFirst: null,
  renderedLast: 0,
  snapshot: null,
};

export function closeDetail() {
  if (detail.live) detail.live.close();
  detail.live = null;
  detail.taskId = null;
  detail.snapshot = null;
  view.selected = null;
  $("detail").hidden = true;
  document.body.classList.remove("detail-open");
  for (const shown of view.rows.values()) shown.row.classList.remove("selected");
}

export function openDetail(taskId) {
  if (detail.taskId === taskId) return;
  closeDetail();
  view.selected = taskId;
  Object.assign(detail, { taskId, earlier: [], renderedFirst: null, renderedLast: 0, snapshot: null });
  for (const [id, shown] of view.rows) shown.row.classList.toggle("selected", id === taskId);
  $("detail").hidden = false;
  document.body.classList.add("detail-open");
  $("detail-kind").textContent = "";
  $("detail-id").textContent = taskId;
  $("detail-message").textContent = "loading…";
  $("detail-steps").replaceChildren();
  $("detail-fields").replaceChildren();
  // The id may come from a pasted address: ask the API first, which says plainly when it
  // names no task, instead of a live stream that would only fail to connect.
  api(`api/tasks/${encodeURIComponent(taskId)}?steps=0`).then(
    () => {
      if (detail.taskId === taskId && !detail.live) followDetail(taskId);
    },
    (error) => {
      if (detail.taskId === taskId) $("detail-message").textContent = error.message;
    },
  );
}

/** Subscribes the panel to one task: its snapshot and recent steps, then every change. */
function followDetail(taskId) {
  const tracker = createTaskLiveTracker();
  detail.live = subscribeTaskLive(LIVE, { taskIds: [taskId], recentSteps: DETAIL_STEPS, includeAggregate: false }, {
    transport: "sse",
    tracker,
    onState: (state) => {
      if (detail.taskId === taskId) renderDetail(state);
    },
    onMessage: (message) => {
      if (detail.taskId !== taskId) return;
      if (message.type === "bootstrap" && message.snapshots.length === 0) {
        $("detail-message").textContent = "No such task (it may have been deleted by retention).";
      }
    },
  });
}

function field(list, name, value) {
  if (value === null || value === undefined || value === "" || (Array.isArray(value) && value.length === 0)) return;
  list.append(el("dt", name), el("dd", Array.isArray(value) ? value.join(", ") : value));
}

function renderDetail(state) {
  const snapshot = state.snapshots.find((s) => s.taskId === detail.taskId);
  if (!snapshot) return;
  const first = !detail.snapshot;
  detail.snapshot = snapshot;
  if (first) $("detail-message").textContent = "";
  $("detail-kind").textContent = snapshot.kind;
  statePill(snapshot.state, $("detail-state"));
  setProgress($("detail-progress"), snapshot);
  $("detail-percent").textContent = percentText(snapshot);
  $("detail-label").textContent = (snapshot.progress && snapshot.progress.label) || "";

  const fields = document.createElement("dl");
  fields.id = "detail-fields";
  fields.className = "fields";
  const progress = snapshot.progress || {};
  field(fields, "status", snapshot.status);
  field(fields, "attempt", `${snapshot.attempt} of ${snapshot.maxAttempts}`);
  field(fields, "priority", snapshot.priority);
  field(fields, "created", snapshot.createdAt);
  field(fields, "scheduled", snapshot.scheduledAt);
  field(fields, "claimed", snapshot.claimedAt);
  field(fields, "started", snapshot.startedAt);
  field(fields, "updated", snapshot.updatedAt);
  field(fields, "finished", snapshot.finishedAt);
  field(fields, "cancel requested", snapshot.cancelRequestedAt);
  field(fields, "retry at", progress.retryScheduledAt);
  field(fields, "stale since", progress.staleAt);
  field(fields, "stale reason", progress.staleReason);
  field(fields, "last heartbeat", progress.lastHeartbeatAt);
  field(fields, "runner", snapshot.leaseOwner);
  field(fields, "lease until", snapshot.leaseExpiresAt);
  field(fields, "channels", snapshot.channels);
  field(fields, "concurrency key", snapshot.concurrencyKey);
  field(fields, "dedupe key", snapshot.dedupeKey);
  field(fields, "supersede key", snapshot.supersedeKey);
  field(fields, "revision", snapshot.revision);
  $("detail-fields").replaceWith(fields);

  const error = snapshot.error;
  $("detail-error-section").hidden = !error;
  $("detail-error").textContent = error
    ? [error.name ? `${error.name}: ${error.message}` : error.message, error.code ? `code: ${error.code}` : "",
      error.details !== undefined ? json(error.details) : "", error.stack || ""].filter(Boolean).join("\n")
    : "";
  $("detail-input").textContent = json(snapshot.input);
  const hasOutput = snapshot.output !== null && snapshot.output !== undefined;
  $("detail-output-section").hidden = !hasOutput;
  $("detail-output").textContent = hasOutput ? json(snapshot.output) : "";
  $("detail-snapshot").textContent = json(snapshot);

  $("detail-cancel").disabled = !CANCELLABLE.has(snapshot.state) || Boolean(snapshot.cancelRequestedAt);
  $("detail-retry").disabled = !canRetry(snapshot);
  renderSteps(state.steps[snapshot.taskId] || [], snapshot);
  // The panel's stream may be ahead of the table's: show the newer state there too.
  applyToRow(snapshot, true);
}

function canRetry(snapshot) {
  if (snapshot.state === "failed" || snapshot.state === "cancelled") return true;
  if (snapshot.state === "queued" || snapshot.state === "retrying") {
    return Date.parse(snapshot.scheduledAt) > Date.now();
  }
  return false;
}

function stepItem(step) {
  const item = el("li", undefined, "step");
  item.dataset.seq = String(step.seq);
  item.dataset.level = step.level;
  const time = el("time", new Date(step.createdAt).toLocaleTimeString(), "step-time");
  time.dateTime = step.createdAt;
  time.title = step.createdAt;
  item.append(
    el("span", `#${step.seq}`, "step-seq"),
    time,
    el("span", step.level, "step-level"),
    el("span", step.kind, "step-kind"),
    el("span", step.message, "step-message"),
  );
  if (typeof step.percent === "number") item.append(el("span", `${Math.round(step.percent)}%`, "step-percent"));
  if (step.meta) item.append(el("code", JSON.stringify(step.meta), "step-meta"));
  return item;
}

function renderSteps(live, snapshot) {
  const list = $("detail-steps");
  const steps = [...detail.earlier.filter((s) => !live.length || s.seq < live[0].seq), ...live];
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
  const firstSeq = steps.length ? steps[0].seq : null;
  if (firstSeq !== detail.renderedFirst) {
    // The window moved (earlier steps loaded, or the oldest dropped): draw it again.
    list.replaceChildren(...steps.map(stepItem));
    detail.renderedFirst = firstSeq;
  } else {
    // Only new steps: append them, so the log does not flicker or lose its scroll place.
    for (const step of steps) if (step.seq > detail.renderedLast) list.append(stepItem(step));
  }
  detail.renderedLast = steps.length ? steps[steps.length - 1].seq : 0;
  if (atBottom) list.scrollTop = list.scrollHeight;
  $("detail-step-count").textContent = snapshot.lastStepSeq ? `(${snapshot.lastStepSeq})` : "(none)";
  $("detail-earlier").hidden = !(firstSeq !== null && firstSeq > 1);
}

export async function loadEarlierSteps() {
  const taskId = detail.taskId;
  const list = $("detail-steps").firstElementChild;
  const first = list ? Number(list.dataset.seq) : 0;
  if (!taskId || first <= 1) return;
  const count = Math.min(EARLIER_STEPS, first - 1);
  const params = new URLSearchParams({ afterSeq: String(first - 1 - count), limit: String(count) });
  try {
    const page = await api(`api/tasks/${encodeURIComponent(taskId)}/steps?${params}`);
    if (detail.taskId !== taskId) return;
    detail.earlier = [...page.steps, ...detail.earlier].sort((a, b) => a.seq - b.seq);
    if (detail.live) renderDetail(detail.live.tracker.getState());
  } catch (error) {
    $("detail-message").textContent = `Steps could not be read: ${error.message}`;
  }
}

export async function act(action) {
  const taskId = detail.taskId;
  if (!taskId) return;
  const message = $("detail-message");
  message.textContent = action === "cancel" ? "cancelling…" : "retrying…";
  try {
    const body = action === "cancel" ? JSON.stringify({ reason: "cancelled from the dashboard" }) : undefined;
    const snapshot = await api(`api/tasks/${encodeURIComponent(taskId)}/${action}`, { method: "POST", body });
    message.textContent = action === "cancel"
      ? (snapshot.state === "cancelled" ? "Cancelled." : "Cancel requested: the worker will stop it.")
      : "Queued to run now.";
    applyToRow(snapshot, false);
    scheduleAggregate();
  } catch (error) {
    message.textContent = error.message;
  }
}
