// Alerts. Stored ones (they have an `id`: late, off route, offline, failed, far from the
// address, PIN locked) stay "open" until a dispatcher acknowledges them: read from GET
// /api/alerts?open=true each time the fleet socket (re)connects, added live from the socket,
// acknowledged with POST /api/alerts/{id}/ack, and removed from every dispatcher's page by
// the socket's `alert_ack`. Clicking one opens its driver and order. Everything else (live-only
// alerts, changes derived from deltas, acknowledgements) goes to the activity feed, newest
// first, capped.

import { clockTime, el } from "../format.js";
import { call, showProblem } from "./api.js";
import { $, driverName, orderName } from "./state.js";

const ALERTS_MAX = 100; // activity lines kept
const OPEN_PAGE = 500; // GET /api/alerts' largest page
const OPEN_PAGES_MAX = 20; // 10,000 open alerts: more is a backlog to clear elsewhere

const who = (a) => driverName(a.driver_id);
const what = (a) => orderName(a.driver_id, a.order_id);
const ALERT_TEXT = {
  arriving: (a) => `${who(a)} is arriving at ${what(a)}`,
  arrived: (a) => `${who(a)} arrived at ${what(a)}`,
  passed: (a) => `${who(a)} passed ${what(a)} without stopping`,
  off_route: (a) => `${who(a)} left the route`,
  back_on_route: (a) => `${who(a)} is back on the route`,
  rerouted: (a) => `${who(a)} has a new route to ${what(a)}`,
  late: (a) => `${what(a)} (${who(a)}) is late`,
  offline: (a) => `${who(a)} is offline with stops to do`,
  failed: (a) => `${who(a)} failed to deliver ${what(a)}`,
  far_from_address: (a) => `${who(a)} acted on ${what(a)} away from its door`,
  pin_locked: (a) => `Delivery PIN locked for ${what(a)} (${who(a)})`,
  issue_reported: (a) => `The customer of ${what(a)} reported a problem`,
  reattempt_requested: (a) => `The customer of ${what(a)} asks for a new attempt`,
};
const BAD_ALERTS = new Set([
  "off_route", "passed", "late", "offline", "failed", "far_from_address", "pin_locked", "issue_reported",
]);

const open = new Map(); // alert id -> {alert, item, generation}
const acked = new Set(); // ids acknowledged while this page watched (a slow load must not revive them)
let generation = 0;
let opener = () => {};

// `onOpen(driverId, orderId)` opens what an alert is about.
export function initAlerts({ onOpen }) {
  opener = onOpen;
}

function describe(alert) {
  const text = (ALERT_TEXT[alert.kind] ?? ((a) => `${who(a)}: ${a.kind}`))(alert);
  const detail = typeof alert.detail === "string" && alert.detail ? ` (${alert.detail})` : "";
  return text + detail;
}

// An `alert` message from the socket: stored ones are open until acknowledged.
export function showAlert(alert) {
  if (alert.id == null) addAlert(alert.at, describe(alert), BAD_ALERTS.has(alert.kind), alert.kind);
  else addOpen(alert);
}

export function addAlert(at, text, bad = false, kind = "") {
  const item = el(
    "li",
    { className: bad ? "bad" : "", dataset: { kind } },
    el("time", { dateTime: at ?? new Date().toISOString() }, clockTime(at ?? new Date())),
    text,
  );
  const list = $("alerts");
  list.prepend(item);
  while (list.children.length > ALERTS_MAX) list.lastElementChild.remove();
}

function addOpen(alert) {
  if (acked.has(alert.id)) return;
  const known = open.get(alert.id);
  if (known) {
    known.generation = generation;
    return;
  }
  const text = describe(alert);
  const show = el("button", { type: "button", className: "link" },
    el("time", { dateTime: alert.at }, clockTime(alert.at)), ` ${text}`);
  show.addEventListener("click", () => opener(alert.driver_id, alert.order_id));
  const ack = el("button", { type: "button", className: "secondary small", "aria-label": `Acknowledge: ${text}` },
    "Acknowledge");
  ack.addEventListener("click", () => acknowledge(alert.id, ack));
  const item = el("li", { className: "open-alert bad", dataset: { alertId: alert.id, kind: alert.kind } }, show, ack);
  open.set(alert.id, { alert, item, generation });
  $("open-alerts").prepend(item);
  countOpen();
}

function countOpen() {
  $("open-alerts-empty").hidden = open.size > 0;
  $("open-alerts-heading").textContent = open.size ? `Open alerts (${open.size})` : "Open alerts";
}

async function acknowledge(id, button) {
  button.disabled = true;
  const result = await call("POST", `/api/alerts/${id}/ack`);
  showProblem($("alerts-problem"), result.ok ? null : result);
  if (result.ok) onAck({ id, acked_by: result.body.acked_by, acked_at: result.body.acked_at });
  else button.disabled = false;
}

// An acknowledgement, this page's or another dispatcher's (`alert_ack` on the socket).
export function onAck(message) {
  acked.add(message.id);
  const known = open.get(message.id);
  if (!known) return;
  open.delete(message.id);
  const hadFocus = known.item.contains(document.activeElement);
  known.item.remove();
  countOpen();
  addAlert(message.acked_at, `Acknowledged by ${message.acked_by}: ${describe(known.alert)}`, false, "ack");
  if (hadFocus) $("open-alerts").querySelector("button")?.focus();
}

// Every open alert, after each (re)connect of the fleet socket; those gone since (acknowledged
// while this page was away) leave the list, those that came live meanwhile stay.
export async function loadOpenAlerts() {
  const mine = ++generation;
  let after = 0;
  for (let page = 0; page < OPEN_PAGES_MAX; page += 1) {
    const result = await call("GET", `/api/alerts?open=true&limit=${OPEN_PAGE}&after=${after}`);
    if (mine !== generation) return; // a newer load (a reconnect, a sign-out) took over
    showProblem($("alerts-problem"), result.ok ? null : result);
    if (!result.ok) return;
    for (const alert of result.body.alerts) addOpen(alert);
    if (result.body.next_after == null) break;
    after = result.body.next_after;
  }
  for (const [id, known] of open) {
    if (known.generation < mine) {
      open.delete(id);
      known.item.remove();
    }
  }
  countOpen();
}

export function clearAlerts() {
  generation += 1;
  open.clear();
  acked.clear();
  $("open-alerts").replaceChildren();
  $("alerts").replaceChildren();
  countOpen();
}
