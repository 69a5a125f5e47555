// Creating an order: POST /api/orders from the form, the destination picked by clicking the
// map (a marker shows it) or typed as coordinates; then, when a driver is chosen, POST
// /api/orders/{id}/assign (the end of their run). A refusal is shown beside the form in the
// server's words, and the field it names is marked and focused.

import { el } from "../format.js";
import { divIcon, leaflet } from "../map.js";
import { call, problemText } from "./api.js";
import { openOrder } from "./orderpanel.js";
import { fillDriverSelect } from "./roster.js";
import { $, ui } from "./state.js";

// Words in an error -> the field they name (first match wins).
const FIELDS = [
  [/customer\.name/, "order-customer"],
  [/customer\.email/, "order-email"],
  [/customer\.phone/, "order-phone"],
  [/reference/, "order-reference"],
  [/promised_by/, "order-promised"],
  [/address/, "order-address"],
  [/\blon\b|longitude/, "order-lon"],
  [/\blat\b|latitude|destination/, "order-lat"],
];
const INPUTS = ["order-reference", "order-address", "order-lat", "order-lon", "order-customer",
  "order-email", "order-phone", "order-promised"];

let pickMarker = null;

export function initOrderForm() {
  $("new-order").addEventListener("toggle", () => {
    if ($("new-order").open) fillDriverSelect($("order-driver"), { first: ["", "Nobody yet"] });
    else removePick();
  });
  $("order-form").addEventListener("submit", (event) => {
    event.preventDefault();
    createOrder();
  });
  for (const id of ["order-lat", "order-lon"]) $(id).addEventListener("change", showTyped);
}

// A click on the map (wired by main.js): while the form is open, it places the order.
export function pickDestination(event) {
  if (!$("new-order").open) return;
  const { lat, lng } = event.latlng.wrap();
  $("order-lat").value = lat.toFixed(6);
  $("order-lon").value = lng.toFixed(6);
  showPick(lat, lng);
  $("order-form-done").textContent = `Destination set to ${lat.toFixed(5)}, ${lng.toFixed(5)}.`;
}

export function resetOrderForm() {
  $("new-order").open = false;
  removePick();
  $("order-form-problem").hidden = true;
  $("order-form-done").textContent = "";
}

// A typed degree value: "50.31", or "50,31" with a decimal comma; anything else ("50.3x",
// "1e3", "0x10") is NaN, never the number a prefix of it makes, as parseFloat would.
function degrees(text) {
  const t = text.trim();
  return /^[-+]?\d+([.,]\d+)?$/.test(t) ? Number(t.replace(",", ".")) : Number.NaN;
}

function coordinates() {
  const lat = degrees($("order-lat").value);
  const lon = degrees($("order-lon").value);
  return { lat, lon, ok: Number.isFinite(lat) && Number.isFinite(lon) };
}

function showTyped() {
  const { lat, lon, ok } = coordinates();
  if (ok && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) showPick(lat, lon);
}

function showPick(lat, lon) {
  const L = leaflet();
  if (!L || !ui.map) return;
  if (!pickMarker) {
    pickMarker = L.marker([lat, lon], {
      icon: divIcon("pick-marker", "", 18),
      title: "New order's destination",
      keyboard: false,
    }).addTo(ui.map);
  } else {
    pickMarker.setLatLng([lat, lon]);
  }
}

function removePick() {
  pickMarker?.remove();
  pickMarker = null;
}

function clearMarks() {
  for (const id of [...INPUTS, "order-driver"]) $(id).removeAttribute("aria-invalid");
}

function refuse(text, fieldId) {
  const problem = $("order-form-problem");
  problem.textContent = text;
  problem.hidden = false;
  $("order-form-done").textContent = "";
  const field = fieldId ?? FIELDS.find(([pattern]) => pattern.test(text))?.[1];
  if (field) {
    $(field).setAttribute("aria-invalid", "true");
    $(field).setAttribute("aria-errormessage", "order-form-problem");
    $(field).focus();
  }
}

function body() {
  const text = (id) => $(id).value.trim() || undefined;
  const { lat, lon } = coordinates();
  const spec = {
    reference: text("order-reference"),
    customer: { name: $("order-customer").value.trim(), email: text("order-email"), phone: text("order-phone") },
    destination: { lat, lon, address: text("order-address") },
  };
  const promised = $("order-promised").value;
  if (promised) spec.promised_by = new Date(promised).toISOString(); // local time, as typed
  if ($("order-pin").checked) spec.delivery_pin = true;
  return spec;
}

async function createOrder() {
  clearMarks();
  $("order-form-problem").hidden = true;
  if (!coordinates().ok) {
    const which = Number.isFinite(coordinates().lat) ? "order-lon" : "order-lat";
    refuse("Not accepted: the destination needs a latitude and a longitude in decimal degrees, " +
      "like 41.1496 and -8.6109 (click the map, or type them)", which);
    return;
  }
  if (!$("order-customer").value.trim()) {
    refuse("Not accepted: the customer's name is required", "order-customer");
    return;
  }
  const submit = $("order-form").querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const created = await call("POST", "/api/orders", body());
    if (!created.ok) {
      refuse(problemText(created));
      return;
    }
    const order = created.body;
    const name = order.reference ?? `#${order.id}`;
    const driverId = Number($("order-driver").value) || null;
    let said = `Order ${name} created (tracking ${order.tracking_code}).`;
    if (driverId) {
      const assigned = await call("POST", `/api/orders/${order.id}/assign`, { driver_id: driverId });
      if (!assigned.ok) {
        refuse(`Order ${name} was created but not assigned. ${problemText(assigned)}`, "order-driver");
        openOrder(order.id);
        return;
      }
      const driver = $("order-driver").selectedOptions[0]?.textContent ?? `driver #${driverId}`;
      said = `Order ${name} created and put at the end of ${driver}'s run.`;
    }
    for (const id of INPUTS) $(id).value = "";
    $("order-pin").checked = false;
    removePick();
    $("order-form-done").replaceChildren(el("span", {}, said));
    openOrder(order.id);
  } finally {
    submit.disabled = false;
  }
}
