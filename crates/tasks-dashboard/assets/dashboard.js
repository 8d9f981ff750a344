// dashboard.js: the entry of the tasks dashboard page, an ES module: it reads the view from
// the address's hash and wires the controls to the parts, each a module of its own:
// common.js (view state, API client, formatting), counts.js (badges), table.js (the task
// table and its live stream), detail.js (the panel). Their only dependency is the live
// bridge's browser module, tasks-live.js, served next to the live routes.
//
// Where the data comes from:
// - The table shows one page of tasks read from the JSON API (`api/tasks`), read again only
//   when the user asks (filters, pages) or the live stream says so (a bootstrap, a new task on
//   the first page). Rows change in place from the live stream's events.
// - The counts come with the live stream's bootstrap, and are read again (`api/aggregate`,
//   at most once a second) after events that may change them.
// - The detail panel has a live subscription of its own to one task, with its recent steps,
//   so its step log keeps growing while it is open.
// Nothing here polls: every read follows a user action or a live message.
//
// Every piece of task data goes into the page with textContent (or a form property), never
// as HTML, so a step message holding markup shows as the text it is.

import { $, PAGE_SIZE, age, readHash, setFilter, view, writeHash } from "./common.js";
import { renderAggregate } from "./counts.js";
import { act, closeDetail, loadEarlierSteps, openDetail } from "./detail.js";
import { goTo, loadPage, startTableLive } from "./table.js";

/** What the table shows: a change of it means reading the page again. */
function tableKey() {
  return JSON.stringify([view.filter, view.offset]);
}

/** Shows what the address's hash says (filters, page, open task). */
function render() {
  const before = tableKey();
  const task = readHash();
  const form = $("filters");
  form.elements.state.value = view.filter.state;
  form.elements.kind.value = view.filter.kind;
  form.elements.channel.value = view.filter.channel;
  if (tableKey() !== before) {
    loadPage();
    renderAggregate(view.aggregate);
  }
  if (task) openDetail(task);
  else closeDetail();
}

function start() {
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    setFilter({
      state: form.elements.state.value,
      kind: form.elements.kind.value.trim(),
      channel: form.elements.channel.value.trim(),
    });
  });
  $("clear-filters").addEventListener("click", () => setFilter({ state: "", kind: "", channel: "" }));
  $("page-first").addEventListener("click", () => goTo(0));
  $("page-prev").addEventListener("click", () => goTo(view.offset - PAGE_SIZE));
  $("page-next").addEventListener("click", () => goTo(view.offset + PAGE_SIZE));
  $("page-last").addEventListener("click", () => goTo(view.total));
  $("new-tasks").addEventListener("click", () => {
    if (view.offset === 0) loadPage();
    else goTo(0);
  });
  $("detail-close").addEventListener("click", () => writeHash({ task: null }));
  $("detail-cancel").addEventListener("click", () => act("cancel"));
  $("detail-retry").addEventListener("click", () => act("retry"));
  $("detail-earlier").addEventListener("click", loadEarlierSteps);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && view.selected) writeHash({ task: null });
  });
  window.addEventListener("hashchange", render);
  // Ages move with the clock; this touches only the page, it reads nothing from the server.
  setInterval(() => {
    for (const cell of document.querySelectorAll("td.age[data-created-at]")) {
      cell.textContent = age(cell.dataset.createdAt);
    }
  }, 5000);

  // The table is read when the live stream's bootstrap arrives (so no change falls between
  // the read and the stream); the detail subscribes on its own.
  render();
  startTableLive();
}

start();
