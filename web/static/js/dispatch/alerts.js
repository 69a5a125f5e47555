// The alerts feed: the fleet socket's `alert` messages and the changes the page derives
// from deltas, newest first, capped.

import { clockTime, el } from "../format.js";
import { $, driverName, orderName } from "./state.js";

const ALERTS_MAX = 100;

const ALERT_TEXT = {
  arriving: (a) => `${driverName(a.driver_id)} is arriving at ${orderName(a.driver_id, a.order_id)}`,
  arrived: (a) => `${driverName(a.driver_id)} arrived at ${orderName(a.driver_id, a.order_id)}`,
  passed: (a) =>
    `${driverName(a.driver_id)} passed ${orderName(a.driver_id, a.order_id)} without stopping`,
  off_route: (a) => `${driverName(a.driver_id)} left the route`,
  back_on_route: (a) => `${driverName(a.driver_id)} is back on the route`,
};
const BAD_ALERTS = new Set(["off_route", "passed"]);

// An `alert` message from the socket, in words.
export function showAlert(alert) {
  const describe = ALERT_TEXT[alert.kind] ?? ((a) => `${driverName(a.driver_id)}: ${a.kind}`);
  const detail = typeof alert.detail === "string" && alert.detail ? ` (${alert.detail})` : "";
  addAlert(alert.at, describe(alert) + detail, BAD_ALERTS.has(alert.kind), alert.kind);
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
