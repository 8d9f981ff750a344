// counts.js: the badges of counts by state and by kind (a click filters the table), from the
// live stream's bootstrap and, after events, from the API at most once a second.

import { $, STATES, api, el, setFilter, showNotice, view } from "./common.js";

const AGGREGATE_EVERY_MS = 1000;

function badge(name, count, onClick, attribute, active) {
  const button = el("button", undefined, "badge");
  button.type = "button";
  button.dataset[attribute] = name;
  if (active) button.classList.add("active");
  button.append(el("span", name, "badge-name"), el("span", count, "badge-count"));
  button.addEventListener("click", onClick);
  return button;
}

let renderedAggregate = "";

export function renderAggregate(aggregate) {
  if (!aggregate) return;
  view.aggregate = aggregate;
  // Unchanged counts leave the badges alone (no flicker, focus stays where it was).
  const key = JSON.stringify([aggregate.total, aggregate.byState, aggregate.byKind, view.filter]);
  if (key === renderedAggregate) return;
  renderedAggregate = key;
  const states = STATES.map((state) =>
    badge(state, aggregate.byState[state] || 0, () => setFilter({ state: view.filter.state === state ? "" : state }),
      "state", view.filter.state === state));
  states.unshift(badge("all", aggregate.total, () => setFilter({ state: "" }), "state", !view.filter.state));
  $("state-badges").replaceChildren(...states);
  const kinds = Object.entries(aggregate.byKind || {}).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  $("kind-badges").replaceChildren(...kinds.map(([kind, count]) =>
    badge(kind, count, () => setFilter({ kind: view.filter.kind === kind ? "" : kind }), "kind", view.filter.kind === kind)));
  $("known-kinds").replaceChildren(...kinds.map(([kind]) => {
    const option = document.createElement("option");
    option.value = kind;
    return option;
  }));
}

let aggregateTimer = null;
let aggregateDirty = false;

async function refreshAggregate() {
  try {
    renderAggregate(await api("api/aggregate"));
  } catch (error) {
    showNotice(`Counts could not be read: ${error.message}`);
  }
}

/** Reads the counts again now, or once the last read is a second old. */
export function scheduleAggregate() {
  if (aggregateTimer) {
    aggregateDirty = true;
    return;
  }
  refreshAggregate();
  aggregateTimer = setTimeout(function again() {
    aggregateTimer = null;
    if (aggregateDirty) {
      aggregateDirty = false;
      scheduleAggregate();
    }
  }, AGGREGATE_EVERY_MS);
}
