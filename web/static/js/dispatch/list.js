// The driver list: search and filters, problems first, at most LIST_LIMIT rows. It is the
// keyboard path to every driver (a button per row, aria-pressed on the selected one); a
// row is rebuilt only when what it shows has changed.

import { clockTime, el } from "../format.js";
import { scheduleRender } from "./render.js";
import { $, drivers, isLate, ui } from "./state.js";

const LIST_LIMIT = 300;
const STATE_ORDER = { delivering: 0, idle: 1, offline: 2 };
const FILTERS = ["search", "state-filter", "order-filter", "late-filter", "offroute-filter", "offline-filter"];

let select = () => {};

// Wires the filters; `onSelect(driverId)` is called when a row is clicked.
export function initList({ onSelect }) {
  select = onSelect;
  for (const id of FILTERS) $(id).addEventListener("input", scheduleRender);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
}

function filters() {
  return {
    query: $("search").value.trim().toLowerCase(),
    state: $("state-filter").value,
    orderStatus: $("order-filter").value,
    late: $("late-filter").checked,
    offRoute: $("offroute-filter").checked,
    offline: $("offline-filter").checked,
  };
}

function matches(d, f) {
  const e = d.entry;
  if (f.state && e.state !== f.state) return false;
  if (f.orderStatus && !e.orders.some((o) => o.status === f.orderStatus)) return false;
  if (f.late && !isLate(e)) return false;
  if (f.offRoute && !d.offRoute) return false;
  if (f.offline && e.online) return false;
  if (f.query) {
    const refs = e.orders.map((o) => o.reference ?? "").join(" ");
    const text = `${e.name} ${e.vehicle ?? ""} #${e.id} ${refs}`.toLowerCase();
    if (!text.includes(f.query)) return false;
  }
  return true;
}

// Late first, then off route, then delivering, idle, offline; then by name.
function rank(d) {
  return (isLate(d.entry) ? 0 : 8) + (d.offRoute ? 0 : 4) + (STATE_ORDER[d.entry.state] ?? 3);
}

const byName = new Intl.Collator(undefined, { numeric: true }).compare;

function rowFor(d) {
  if (!d.row) {
    const button = el("button", { type: "button", className: "driver-row" });
    button.addEventListener("click", () => select(d.entry.id));
    d.row = el("li", { dataset: { driverId: d.entry.id } }, button);
  }
  const e = d.entry;
  const stop = e.current_stop;
  const key = [
    e.name, e.state, e.vehicle, isLate(e), d.offRoute, Boolean(e.position) && !d.inView,
    stop?.reference, stop?.order_id, stop?.eta?.eta, e.position?.at, ui.selected === e.id,
  ].join("|");
  if (d.rowVersion === key) return d.row; // what the row shows has not changed
  d.rowVersion = key;
  const badges = [el("span", { className: `badge ${e.state}` }, e.state)];
  if (isLate(e)) badges.push(el("span", { className: "badge late" }, "late"));
  if (d.offRoute) badges.push(el("span", { className: "badge off-route" }, "off route"));
  if (e.position && !d.inView) {
    badges.push(el("span", { className: "badge stale", title: "Outside the map view: not updated" }, "out of view"));
  }
  const sub = [
    e.vehicle,
    stop ? `${stop.reference ?? `#${stop.order_id}`} ETA ${stop.eta ? clockTime(stop.eta.eta) : "–"}` : null,
    e.position ? `fix ${clockTime(e.position.at)}` : "no position yet",
  ].filter(Boolean);
  const button = d.row.firstElementChild;
  button.setAttribute("aria-pressed", String(ui.selected === e.id));
  button.replaceChildren(
    el("span", { className: "name" }, e.name),
    el("span", { className: "badges" }, ...badges),
    el("span", { className: "sub" }, sub.join(" · ")),
  );
  return d.row;
}

export function renderList() {
  const f = filters();
  const all = [...drivers.values()];
  const found = all
    .filter((d) => matches(d, f))
    .map((d) => [rank(d), d])
    .sort(([ra, a], [rb, b]) => ra - rb || byName(a.entry.name, b.entry.name))
    .map(([, d]) => d);
  const shown = found.slice(0, LIST_LIMIT);
  const list = $("driver-list");
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  list.replaceChildren(...shown.map(rowFor));
  if (focused && list.contains(focused)) focused.focus({ preventScroll: true });
  const more = found.length > LIST_LIMIT ? `; the first ${LIST_LIMIT} are listed, refine the search` : "";
  const summary = `${found.length} of ${all.length} drivers${more}`;
  if ($("list-summary").textContent !== summary) $("list-summary").textContent = summary;
}
