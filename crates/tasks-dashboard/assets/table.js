// table.js: the task table: one page read from the API, rows changed in place by the live
// stream, read again when the stream says the page is out of date, and the pager.

import { matchesFilter, subscribeTaskLive } from "../live/tasks-live.js";
import {
  $, LIVE, PAGE_SIZE, CANCELLABLE, age, api, el, filterParams, filterQuery, json, percentText,
  setProgress, shortId, showNotice, statePill, view, writeHash,
} from "./common.js";
import { renderAggregate, scheduleAggregate } from "./counts.js";

const RELOAD_EVERY_MS = 500;

function buildRow(snapshot) {
  const row = el("tr");
  row.dataset.taskId = snapshot.taskId;
  row.tabIndex = 0;
  const id = el("td", undefined, "id");
  const code = el("code", shortId(snapshot.taskId));
  code.title = snapshot.taskId;
  id.append(code);
  const progress = el("td", undefined, "progress-cell");
  const bar = document.createElement("progress");
  bar.max = 100;
  const wrap = el("div", undefined, "progress-wrap");
  wrap.append(bar, el("span", "", "percent"));
  progress.append(wrap);
  row.append(
    id,
    el("td", snapshot.kind, "kind"),
    el("td", undefined, "state"),
    progress,
    el("td", "", "label"),
    el("td", "", "attempt"),
    el("td", "", "age"),
  );
  row.addEventListener("click", () => writeHash({ task: snapshot.taskId }));
  row.addEventListener("keydown", (event) => {
    if (event.key === "Enter") writeHash({ task: snapshot.taskId });
  });
  fillRow(row, snapshot);
  return row;
}

function fillRow(row, snapshot) {
  const cells = row.children;
  const stateCell = cells[2];
  stateCell.replaceChildren(statePill(snapshot.state));
  if (snapshot.cancelRequestedAt && CANCELLABLE.has(snapshot.state)) {
    stateCell.append(el("span", " cancelling", "muted"));
  }
  setProgress(cells[3].querySelector("progress"), snapshot);
  cells[3].querySelector(".percent").textContent = percentText(snapshot);
  cells[4].textContent = (snapshot.progress && snapshot.progress.label) || "";
  cells[5].textContent = `${snapshot.attempt}/${snapshot.maxAttempts}`;
  cells[6].textContent = age(snapshot.createdAt);
  cells[6].dataset.createdAt = snapshot.createdAt;
  cells[6].title = snapshot.createdAt;
  row.dataset.state = snapshot.state;
  row.classList.toggle("outside-filter", !matchesFilter(filterQuery(), snapshot));
  row.classList.toggle("selected", view.selected === snapshot.taskId);
}

/** Applies a newer snapshot to its row (if shown) by the tracker's revision rule. */
export function applyToRow(snapshot, equalIsNewer) {
  const shown = view.rows.get(snapshot.taskId);
  if (!shown) return false;
  const held = shown.snapshot;
  if (held.revision > snapshot.revision) return false;
  if (held.revision === snapshot.revision && (!equalIsNewer || json(held) === json(snapshot))) return false;
  shown.snapshot = snapshot;
  fillRow(shown.row, snapshot);
  return true;
}

function renderPage(page) {
  view.total = page.total;
  view.rows.clear();
  const rows = page.tasks.map((snapshot) => {
    const row = buildRow(snapshot);
    view.rows.set(snapshot.taskId, { row, snapshot });
    return row;
  });
  $("task-rows").replaceChildren(...rows);
  $("empty").hidden = rows.length > 0;
  const first = page.tasks.length ? page.offset + 1 : 0;
  const last = page.offset + page.tasks.length;
  $("page-info").textContent = `${first.toLocaleString()}–${last.toLocaleString()} of ${page.total.toLocaleString()}`;
  $("page-first").disabled = $("page-prev").disabled = page.offset === 0;
  $("page-next").disabled = $("page-last").disabled = last >= page.total;
  view.newTasks = 0;
  renderNewTasks();
}

function renderNewTasks() {
  const button = $("new-tasks");
  button.hidden = view.newTasks === 0;
  button.textContent = `${view.newTasks} new — show newest`;
}

let pageTicket = 0;
// Events that arrive while a page is being read: the read may predate them, so they are
// applied to the new rows once it is in (the revision rule drops the ones it already has).
let pending = null;
const MAX_PENDING = 5000;

export async function loadPage() {
  const ticket = ++pageTicket;
  pending = [];
  const params = filterParams();
  params.set("limit", String(PAGE_SIZE));
  params.set("offset", String(view.offset));
  try {
    const page = await api(`api/tasks?${params}`);
    // A later read (another page, another filter) wins over a slower earlier one.
    if (ticket !== pageTicket) return;
    const missed = pending;
    pending = null;
    showNotice("");
    renderPage(page);
    if (missed === "overflow") {
      scheduleReload();
      return;
    }
    for (const [snapshot, equalIsNewer] of missed) applyToRow(snapshot, equalIsNewer);
  } catch (error) {
    if (ticket !== pageTicket) return;
    pending = null;
    showNotice(`Tasks could not be read: ${error.message}`);
  }
}

function holdForPage(snapshot, equalIsNewer) {
  if (pending === null || pending === "overflow") return;
  if (pending.length >= MAX_PENDING) pending = "overflow";
  else pending.push([snapshot, equalIsNewer]);
}

let reloadTimer = null;

/** Reads the first page again soon (new tasks arrive in bursts: once per burst). */
function scheduleReload() {
  if (reloadTimer) return;
  reloadTimer = setTimeout(() => {
    reloadTimer = null;
    loadPage();
  }, RELOAD_EVERY_MS);
}

export function goTo(offset) {
  const lastPage = Math.max(0, Math.floor((view.total - 1) / PAGE_SIZE) * PAGE_SIZE);
  writeHash({ offset: Math.min(Math.max(0, offset), lastPage) });
}

// ---- The table's live stream ----------------------------------------------------------

function setLive(state, text) {
  const status = $("live-status");
  status.dataset.state = state;
  status.textContent = text;
}

function onTableMessage(message) {
  if (!message) return;
  if (message.type === "bootstrap") {
    // The first message, and again after a reconnect that could not resume: start afresh.
    renderAggregate(message.aggregate);
    loadPage();
    return;
  }
  if (message.type !== "event" || !message.event) return;
  const event = message.event;
  const snapshot = event.snapshot;
  if (event.event !== "step") scheduleAggregate();
  if (!snapshot) return;
  holdForPage(snapshot, event.event === "progress");
  if (applyToRow(snapshot, event.event === "progress")) return;
  if (view.rows.has(snapshot.taskId) || !matchesFilter(filterQuery(), snapshot)) return;
  // A task the table does not show now passes its filter: a new task, or one whose state
  // moved into the filtered one. On the first page it belongs there if it is newer than the
  // oldest row (the page is newest first): read the page again. Further back, say how many
  // new tasks pushed the pages along.
  if (view.offset === 0) {
    if (view.rows.size < PAGE_SIZE || snapshot.createdAt >= oldestShown()) scheduleReload();
  } else if (event.event === "enqueued") {
    view.newTasks += 1;
    renderNewTasks();
  }
}

/** The creation time of the oldest row shown. */
function oldestShown() {
  let oldest = null;
  for (const { snapshot } of view.rows.values()) {
    if (oldest === null || snapshot.createdAt < oldest) oldest = snapshot.createdAt;
  }
  return oldest || "";
}

/** A tracker-shaped sink for subscribeTaskLive: the table keeps no tracker of every task. */
const tableSink = {
  apply(message) {
    onTableMessage(message);
    return false;
  },
  cursor: () => null,
  setCursor() {},
  onChange: () => () => {},
};

export function startTableLive() {
  // limit 1: the bootstrap is read for its counts; the page itself comes from the API.
  subscribeTaskLive(LIVE, { limit: 1, recentSteps: 0 }, {
    transport: "sse",
    tracker: tableSink,
    onMessage: () => setLive("live", "live"),
    onError: () => setLive("reconnecting", "reconnecting…"),
  });
}
