// A driver's stops in the detail panel, and reordering them: drag a stop onto another
// (HTML5 drag and drop: it goes before or after it, by which half it is dropped on), or
// use its "move up" / "move down" buttons (the keyboard path; focus stays on the stop).
// A move is POST /api/orders/{id}/assign with the same driver and the stop_index it should
// take (stop indexes may have gaps; the server moves the later stops down one). Until the
// fleet socket shows the move, further moves wait: each is computed from the server's order.

import { clockTime, el, statusLabel } from "../format.js";
import { call, showProblem } from "./api.js";
import { openOrder } from "./orderpanel.js";
import { $, drivers, ui } from "./state.js";

const PENDING_MAX_MS = 10_000; // a move the socket never confirms stops blocking after this

let pending = null; // {driverId, orderId, stopIndex, since}
let dragged = null; // order id being dragged
let drawn = ""; // what the list shows, to redraw only on change

function sortedStops(entry) {
  return [...entry.orders].sort((a, b) => (a.stop_index ?? 0) - (b.stop_index ?? 0) || a.id - b.id);
}

function label(o) {
  return o.reference ?? `#${o.id}`;
}

function confirmed(d) {
  if (!pending) return;
  const moved = d?.entry.orders.find((o) => o.id === pending.orderId);
  if (pending.driverId !== d?.entry.id) return;
  if (!moved || moved.stop_index === pending.stopIndex || Date.now() - pending.since > PENDING_MAX_MS) {
    pending = null;
  }
}

export function renderStops(d, force = false) {
  confirmed(d);
  const stops = sortedStops(d.entry);
  const signature = JSON.stringify([d.entry.id, Boolean(pending),
    stops.map((o) => [o.id, o.status, o.stop_index, o.eta, o.late, o.reference])]);
  if (dragged !== null || (!force && signature === drawn)) return; // never under a drag
  drawn = signature;
  const list = $("detail-stops");
  const focusKey = list.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
  list.replaceChildren(...stops.map((o, i) => stopItem(d, o, i, stops.length)));
  if (!stops.length) list.replaceChildren(el("li", {}, "No stops on the run."));
  if (focusKey) {
    const [id, which] = focusKey.split(":");
    const wanted = list.querySelector(`[data-focus-key="${focusKey}"]`);
    const other = list.querySelector(`[data-focus-key="${id}:${which === "up" ? "down" : "up"}"]`);
    // At the top "up" is off for good (at the bottom "down"): the stop's other button then.
    (wanted && !wanted.dataset.edge ? wanted : other ?? wanted)?.focus();
  }
}

function button(text, ariaLabel, focusKey, busy, edge, onClick) {
  const b = el("button", { type: "button", className: "secondary small", "aria-label": ariaLabel,
    dataset: { focusKey } }, text);
  if (edge) b.dataset.edge = "true";
  if (busy || edge) b.setAttribute("aria-disabled", "true");
  b.addEventListener("click", () => {
    if (b.getAttribute("aria-disabled") !== "true") onClick();
  });
  return b;
}

function stopItem(d, o, i, count) {
  const busy = Boolean(pending);
  const stops = () => sortedStops(drivers.get(d.entry.id)?.entry ?? d.entry);
  const open = el("button", { type: "button", className: "link", dataset: { focusKey: `${o.id}:open` } },
    `${label(o)}: ${statusLabel(o.status)}`);
  open.addEventListener("click", () => openOrder(o.id));
  const li = el(
    "li",
    { className: `stop${o.late ? " problem" : ""}`, draggable: !busy, dataset: { orderId: o.id } },
    el("span", { className: "grip", "aria-hidden": "true", title: "Drag to reorder" }, "⠿"),
    el("span", { className: "stop-text" }, open, o.eta ? `, ETA ${clockTime(o.eta)}` : "", o.late ? " (late)" : ""),
    el("span", { className: "stop-buttons" },
      button("↑", `Move ${label(o)} up`, `${o.id}:up`, busy, i === 0,
        () => { const s = stops(); const at = s.findIndex((x) => x.id === o.id); move(d.entry.id, o, s[at - 1], true); }),
      button("↓", `Move ${label(o)} down`, `${o.id}:down`, busy, i === count - 1,
        () => { const s = stops(); const at = s.findIndex((x) => x.id === o.id); move(d.entry.id, o, s[at + 1], false); }),
    ),
  );
  li.addEventListener("dragstart", (event) => {
    dragged = o.id;
    event.dataTransfer.setData("text/plain", String(o.id));
    event.dataTransfer.effectAllowed = "move";
    li.classList.add("dragging");
  });
  li.addEventListener("dragend", () => {
    dragged = null;
    renderStops(drivers.get(d.entry.id) ?? d, true); // what changed during the drag
  });
  li.addEventListener("dragover", (event) => {
    if (dragged === null || dragged === o.id) return;
    event.preventDefault(); // this is a drop target
    event.dataTransfer.dropEffect = "move";
    const before = isUpperHalf(li, event);
    li.classList.toggle("drop-before", before);
    li.classList.toggle("drop-after", !before);
  });
  li.addEventListener("dragleave", () => li.classList.remove("drop-before", "drop-after"));
  li.addEventListener("drop", (event) => {
    event.preventDefault();
    li.classList.remove("drop-before", "drop-after");
    const id = Number(event.dataTransfer.getData("text/plain"));
    const moving = stops().find((x) => x.id === id);
    if (moving && id !== o.id) move(d.entry.id, moving, o, isUpperHalf(li, event));
  });
  return li;
}

function isUpperHalf(element, event) {
  const box = element.getBoundingClientRect();
  return event.clientY < box.top + box.height / 2;
}

// Put `order` before (or after) `target` on the driver's run.
async function move(driverId, order, target, before) {
  if (!target || pending) return;
  const stopIndex = before ? target.stop_index : target.stop_index + 1;
  const status = $("run-status");
  showProblem($("run-problem"), null);
  pending = { driverId, orderId: order.id, stopIndex, since: Date.now() };
  status.textContent = `Moving ${label(order)}…`;
  rerender(driverId);
  setTimeout(() => rerender(driverId), PENDING_MAX_MS + 100); // unblock if never confirmed
  const result = await call("POST", `/api/orders/${order.id}/assign`, { driver_id: driverId, stop_index: stopIndex });
  if (!result.ok) {
    pending = null;
    status.textContent = "";
    showProblem($("run-problem"), result);
    rerender(driverId);
    return;
  }
  const where = before ? `before ${label(target)}` : `after ${label(target)}`;
  status.textContent = `${label(order)} moved ${where}.`;
}

function rerender(driverId) {
  const d = drivers.get(driverId);
  if (d && ui.selected === driverId) renderStops(d, true);
}

export function forgetStops() {
  drawn = "";
}
