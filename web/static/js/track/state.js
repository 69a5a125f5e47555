// What the customer's page knows (one order), and small helpers every part of it uses.
// Filled from WS /ws/track/{code}: a snapshot, then position, status, eta and arrived
// messages; a reconnect is a fresh snapshot that replaces it.
import { t } from "../i18n.js";

export const code = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");

export const state = {
  view: null, // the snapshot / public view, kept current by the messages
  courier: null, // the courier's position while this customer may see it
  eta: null, // the ETA (live, or an estimate before dispatch)
  baseEta: null, // the ETA the customer was last told of (snapshot or eta message)
  route: null, // the leg shown (GeoJSON Feature), trimmed as the courier drives
  routeCut: 0,
};

export const $ = (id) => document.getElementById(id);

// Statuses that end the delivery, and how each is shown (not all as a success).
export const OUTCOMES = { delivered: "good", failed: "bad", cancelled: "ended", returned: "ended" };

// The courier at the door ("arrived") is still out for delivery: map, ETA, what is to come.
export function outForDelivery() {
  return ["out_for_delivery", "arrived"].includes(state.view?.status);
}

// At the door: the courier said so, or the tracker saw them stop there.
export function atTheDoor() {
  return state.view?.status === "arrived" || (outForDelivery() && Boolean(state.view?.arrived_at));
}

export function announce(text) {
  const region = $("announcer");
  region.textContent = "";
  requestAnimationFrame(() => {
    region.textContent = text;
  });
}

export function statusName(status) {
  return t(`status.${status}`);
}
