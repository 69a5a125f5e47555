// The run as a list: each stop's reference, address, customer's instructions, ETA and
// windows, status, navigation hand-off and the big action buttons. The first stop is the
// current one. What is queued for a stop (not yet confirmed by the server) shows on it.

import { clockTime, distance, duration, el } from "../format.js";
import { $, app } from "./state.js";

// The status as the courier says it (format.js's labels speak to customers).
const STATUS = {
  out_for_delivery: "On the way",
  arrived: "Arrived",
  delivered: "Delivered",
  failed: "Failed",
};

export const actions = { arrived: () => {}, delivered: () => {}, failed: () => {} };

export function stopName(stop) {
  return stop.reference || `Order ${stop.order_id}`;
}

// Hand-offs to the phone's navigation: the geo: URI (Android's chooser), Google and Apple.
export function navigationLinks(stop) {
  const { lat, lon, address } = stop.destination;
  const at = `${lat},${lon}`;
  const label = address ? `(${encodeURIComponent(address)})` : "";
  const apple = new URLSearchParams({ daddr: at });
  if (address) apple.set("q", address);
  return [
    ["Maps app", `geo:${at}?q=${at}${label}`],
    ["Google Maps", `https://www.google.com/maps/dir/?api=1&destination=${at}`],
    ["Apple Maps", `https://maps.apple.com/?${apple}`],
  ];
}

function etaText(stop) {
  const eta = stop.eta;
  if (!eta?.eta) return null;
  const parts = [`ETA ${clockTime(eta.eta)}`];
  const detail = [
    eta.eta_s != null ? `in ${duration(eta.eta_s)}` : null,
    distance(eta.remaining_m),
  ];
  if (detail.some(Boolean)) parts.push(`(${detail.filter(Boolean).join(", ")})`);
  if (Array.isArray(eta.window)) {
    parts.push(`· expected ${clockTime(eta.window[0])}–${clockTime(eta.window[1])}`);
  }
  return parts.join(" ");
}

function promiseText(stop) {
  if (stop.window) {
    return `Customer's window ${clockTime(stop.window.start)}–${clockTime(stop.window.end)}`;
  }
  if (stop.promised_by) return `Promised by ${clockTime(stop.promised_by)}`;
  return null;
}

function queuedFor(orderId) {
  return app.queued.filter((entry) => entry.orderId === orderId);
}

function button(text, className, describedBy, onClick) {
  const node = el("button", { type: "button", className, "aria-describedby": describedBy }, text);
  node.addEventListener("click", onClick);
  return node;
}

function stopItem(stop, index) {
  const headingId = `stop-${stop.order_id}`;
  const queued = queuedFor(stop.order_id);
  const closing = queued.find((e) => e.kind === "status" && e.body.status !== "arrived");
  const arriving = queued.some((e) => e.kind === "status" && e.body.status === "arrived");
  const status = closing ? closing.body.status : arriving ? "arrived" : stop.status;
  const current = index === 0;
  const { lat, lon } = stop.destination;
  const item = el(
    "li",
    { className: `stop-card${current ? " current" : ""}`, dataset: { order: stop.order_id } },
    el(
      "h3",
      { id: headingId },
      el("span", { className: "stop-number" }, String(index + 1)),
      ` ${stopName(stop)} `,
      current ? el("span", { className: "current-label" }, "current stop") : null,
    ),
    el("p", { className: `stop-status ${status}` }, STATUS[status] ?? status,
      queued.length ? " (waiting to send)" : ""),
    el("p", { className: "address" }, stop.destination.address || `${lat}, ${lon}`),
    stop.customer_name ? el("p", {}, `For ${stop.customer_name}`) : null,
    stop.delivery_instructions
      ? el("p", { className: "instructions" }, `Instructions: ${stop.delivery_instructions}`)
      : null,
    etaText(stop) ? el("p", { className: "eta" }, etaText(stop)) : null,
    promiseText(stop) ? el("p", { className: "muted" }, promiseText(stop)) : null,
  );
  if (current) item.setAttribute("aria-current", "step");
  const nav = el("p", { className: "nav-links" }, "Navigate: ");
  for (const [text, href] of navigationLinks(stop)) {
    const link = el("a", { href, "aria-describedby": headingId }, text);
    if (href.startsWith("https:")) {
      link.target = "_blank";
      link.rel = "noopener noreferrer";
    }
    nav.append(link, " ");
  }
  item.append(nav);
  if (!closing) {
    const row = el("div", { className: "stop-actions" });
    if (status === "out_for_delivery") {
      row.append(button("Arrived", "arrived", headingId, () => actions.arrived(stop)));
    }
    row.append(
      button("Delivered", "delivered", headingId, () => actions.delivered(stop)),
      button("Failed", "failed secondary", headingId, () => actions.failed(stop)),
    );
    item.append(row);
  }
  return item;
}

let drawn = ""; // what the list shows, to skip redrawing the same (a tap may be under way)

export function renderRun() {
  const shown = JSON.stringify([app.stops, app.runAt, app.queued.map((e) => [e.key, e.orderId])]);
  if (shown === drawn) return;
  drawn = shown;
  const list = $("run");
  // Redrawn whole (runs are short); the focused button keeps the focus.
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  const order = focused?.closest("[data-order]")?.dataset.order;
  const kind = focused?.className;
  list.replaceChildren(...app.stops.map(stopItem));
  if (order && kind) {
    const again = list.querySelector(`[data-order="${order}"] button[class="${kind}"]`);
    again?.focus();
  }
  const count = app.stops.length;
  $("run-empty").hidden = count > 0;
  const asOf = app.runAt ? `, as of ${clockTime(app.runAt)}` : "";
  $("run-summary").textContent = count === 0 ? "" : `${count} stop${count === 1 ? "" : "s"}${asOf}`;
}
