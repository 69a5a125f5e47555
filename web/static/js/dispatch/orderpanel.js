// The order panel: one order (GET /api/orders/{id}) with its timeline and proof, and what a
// dispatcher does to it: assign or reassign it (POST …/assign: the end of that driver's run),
// change its status with a note, cancel it after a confirmation. Refusals are shown in the
// server's words (a 409 names the statuses allowed). The panel reloads the order when the
// fleet socket shows it changed (status, driver, place in the run) by anyone.

import { clockTime, dateTime, distance, el, STATUSES, statusLabel } from "../format.js";
import { call, problemText, showProblem } from "./api.js";
import { showProof } from "./proof.js";
import { fillDriverSelect, nameOf } from "./roster.js";
import { $, drivers, ui } from "./state.js";

const OFF_RUN = new Set(["delivered", "failed", "cancelled", "returned"]); // assign: 409
const FINAL = new Set(["delivered", "cancelled", "returned"]); // no cancelling these
const PROOF_FROM = new Set(["out_for_delivery", "arrived", "delivered", "returned", "failed"]);

let shown = null; // {order, fleetKey}
let loading = false;

export function initOrderPanel() {
  $("order-close").addEventListener("click", closeOrder);
  $("assign-form").addEventListener("submit", (event) => {
    event.preventDefault();
    assign();
  });
  $("status-form").addEventListener("submit", (event) => {
    event.preventDefault();
    changeStatus($("status-select").value);
  });
  $("cancel-order").addEventListener("click", () => {
    const order = shown?.order;
    if (!order) return;
    $("cancel-question").textContent =
      `Cancel order ${order.reference ?? `#${order.id}`}? The customer is told; it cannot be undone.`;
    $("cancel-confirm").hidden = false;
    $("cancel-no").focus();
  });
  $("cancel-no").addEventListener("click", () => {
    $("cancel-confirm").hidden = true;
    $("cancel-order").focus();
  });
  $("cancel-yes").addEventListener("click", () => changeStatus("cancelled"));
}

// What the fleet says of the order: its driver, status and place; "off" when on no run.
// (Drawn frames come with deltas, about once a second: a scan of the runs is cheap.)
function fleetKey(orderId) {
  for (const { entry } of drivers.values()) {
    const o = entry.orders.find((x) => x.id === orderId);
    if (o) return JSON.stringify([entry.id, o.status, o.stop_index]);
  }
  return "off";
}

export async function openOrder(orderId) {
  ui.order = orderId;
  $("order").hidden = false;
  showProblem($("order-problem"), null);
  $("order-done").textContent = "";
  await loadOrder(orderId);
  $("order-heading").focus?.();
}

export function closeOrder() {
  ui.order = null;
  shown = null;
  $("order").hidden = true;
}

async function loadOrder(orderId) {
  loading = true;
  // Taken before asking: a change the fleet shows while the answer is on its way reloads
  // again, so the panel is never older than what the fleet showed.
  const key = fleetKey(orderId);
  try {
    const result = await call("GET", `/api/orders/${orderId}`);
    if (ui.order !== orderId) return;
    if (!result.ok) {
      showProblem($("order-problem"), result);
      return;
    }
    shown = { order: result.body, fleetKey: key };
    await renderOrder(result.body);
  } finally {
    loading = false;
  }
}

// Called on every drawn frame: reload when the fleet shows the open order changed.
export function refreshOrder() {
  if (ui.order === null || loading || !shown) return;
  if (fleetKey(ui.order) !== shown.fleetKey) loadOrder(ui.order);
}

function fact(term, value) {
  return [el("dt", {}, term), el("dd", {}, value || "–")];
}

function step(s) {
  const where = s.distance_m != null ? `, ${distance(s.distance_m)} from the address` : "";
  return el(
    "li",
    { className: s.far ? "problem" : "" },
    el("time", { dateTime: s.at }, dateTime(s.at)),
    ` ${statusLabel(s.status)} (${s.actor})`,
    s.reason ? `, reason: ${s.reason.replaceAll("_", " ")}` : "",
    s.note ? `: “${s.note}”` : "",
    where,
    s.far ? " (far from the address)" : "",
  );
}

async function renderOrder(order) {
  await fillDriverSelect($("assign-driver"), { chosen: order.driver_id }); // the roster too
  if (ui.order !== order.id) return;
  const name = order.reference ?? `#${order.id}`;
  $("order-heading").textContent = `Order ${name}`;
  const c = order.customer;
  const d = order.destination;
  $("order-facts").replaceChildren(
    ...fact("Status", statusLabel(order.status) + (order.late ? " (late)" : "")),
    ...fact("Customer", [c.name, c.email, c.phone].filter(Boolean).join(", ")),
    ...fact("Address", d.address),
    ...fact("Destination", `${d.lat.toFixed(5)}, ${d.lon.toFixed(5)}`),
    ...fact("Driver", order.driver_id ? nameOf(order.driver_id) : "not assigned"),
    ...fact("Promised by", order.window ? `${dateTime(order.window.start)}–${clockTime(order.window.end)}`
      : dateTime(order.promised_by)),
    ...fact("ETA", order.eta ? clockTime(order.eta.eta) : ""),
    ...fact("Tracking", order.tracking_code),
  );
  $("order-timeline").replaceChildren(...(order.timeline ?? []).map(step));
  $("assign-form").hidden = OFF_RUN.has(order.status);
  $("assign-button").textContent = order.driver_id ? "Reassign" : "Assign";
  $("cancel-order").hidden = FINAL.has(order.status);
  $("cancel-confirm").hidden = true;
  const choices = STATUSES.filter((s) => s !== order.status);
  $("status-select").replaceChildren(...choices.map((s) => el("option", { value: s }, statusLabel(s))));
  $("status-form").hidden = FINAL.has(order.status) && order.status !== "delivered";
  $("order-proof").replaceChildren(el("p", { className: "muted" }, PROOF_FROM.has(order.status) ? "Loading…" : "None yet."));
  if (PROOF_FROM.has(order.status)) await showProof(order, $("order-proof"));
}

async function act(path, body, said) {
  const order = shown?.order;
  if (!order) return;
  showProblem($("order-problem"), null);
  $("order-done").textContent = "";
  const result = await call("POST", `/api/orders/${order.id}${path}`, body);
  if (ui.order !== order.id) return;
  if (!result.ok) {
    const allowed = Array.isArray(result.body?.allowed) ? result.body.allowed : null;
    showProblem($("order-problem"), result);
    if (allowed && !allowed.length) $("order-problem").textContent += " (no status may follow)";
    return;
  }
  await loadOrder(order.id);
  $("order-done").textContent = said(result.body);
}

function assign() {
  const driverId = Number($("assign-driver").value);
  if (!driverId) return;
  act("/assign", { driver_id: driverId }, () => `Put at the end of ${nameOf(driverId)}'s run.`);
}

function changeStatus(status) {
  const note = $("status-note").value.trim() || undefined;
  act("/status", { status, note }, (o) => {
    $("status-note").value = "";
    return `Status is now: ${statusLabel(o.status)}.`;
  });
}
