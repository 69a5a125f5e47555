// The selected driver as a person with a phone: GET /api/drivers/{id} (phone; battery, app
// and last fix as the server last saw them), a message to the courier (POST
// /api/drivers/{id}/messages, delivered on their socket), and the orders they finished in
// the last 24 hours (GET /api/orders, by creation time), each opening in the order panel.

import { clockTime, el, statusLabel } from "../format.js";
import { call, showProblem } from "./api.js";
import { openOrder } from "./orderpanel.js";
import { $, ui } from "./state.js";

const FINISHED = "delivered,failed,cancelled,returned";
const DAY_MS = 24 * 3600_000;

export const APP_NAMES = {
  own_page: "own page (/driver)",
  http: "HTTP ingest",
  traccar_client: "Traccar Client",
  owntracks: "OwnTracks",
};

export let courierInfo = null; // GET /api/drivers/{id} of the selected driver

export function initCourier() {
  $("message-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
  });
}

// A driver was selected: read who they are and what they finished.
export async function loadCourier(driverId, onLoaded) {
  courierInfo = null;
  $("messages-sent").replaceChildren();
  showProblem($("message-problem"), null);
  $("detail-finished").replaceChildren(el("li", { className: "muted" }, "Loading…"));
  const [info] = await Promise.all([call("GET", `/api/drivers/${driverId}`), refreshFinished(driverId)]);
  if (ui.selected !== driverId) return;
  if (info.ok) courierInfo = info.body;
  onLoaded();
}

// The finished list again (detail.js calls it when the run changes: a stop may have left it).
export async function refreshFinished(driverId) {
  const from = new Date(Date.now() - DAY_MS).toISOString();
  const finished = await call(
    "GET",
    `/api/orders?driver_id=${driverId}&status=${FINISHED}&from=${encodeURIComponent(from)}&limit=500`,
  );
  if (ui.selected === driverId) showFinished(finished);
}

function showFinished(result) {
  const list = $("detail-finished");
  if (!result.ok) {
    list.replaceChildren(el("li", { className: "problem" }, `Could not load: ${result.error}`));
    return;
  }
  const orders = result.body.orders;
  if (!orders.length) {
    list.replaceChildren(el("li", { className: "muted" }, "Nothing yet."));
    return;
  }
  list.replaceChildren(
    ...orders.reverse().map((o) => {
      const open = el("button", { type: "button", className: "link" },
        `${o.reference ?? `#${o.id}`}: ${statusLabel(o.status)}`);
      open.addEventListener("click", () => openOrder(o.id));
      return el("li", {}, open, ` ${clockTime(o.updated_at)}`);
    }),
  );
}

async function sendMessage() {
  const driverId = ui.selected;
  const text = $("message-text").value;
  if (driverId === null) return;
  if (!text.trim()) {
    showProblem($("message-problem"), { status: 422, error: "write the message first" });
    $("message-text").focus();
    return;
  }
  const submit = $("message-form").querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const result = await call("POST", `/api/drivers/${driverId}/messages`, { text });
    if (ui.selected !== driverId) return;
    showProblem($("message-problem"), result.ok ? null : result);
    if (!result.ok) return;
    $("message-text").value = "";
    const m = result.body;
    $("messages-sent").prepend(
      el("li", {}, el("time", { dateTime: m.at }, clockTime(m.at)), ` Sent: ${m.text}`),
    );
  } finally {
    submit.disabled = false;
  }
}
