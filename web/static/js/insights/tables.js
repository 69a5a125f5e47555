// The drivers' and zones' tables (`GET /api/insights/drivers|zones`), sortable; a driver's
// or zone's name links to the same view filtered to it.

import { $, el } from "./dom.js";
import { pageUrl } from "./query.js";
import { sortableTable } from "./table.js";
import { TEXT, t } from "./text.js";

const FIGURES = [
  ["deliveries", "count"],
  ["failed", "count"],
  ["on_time_rate_promise", "rate"],
  ["on_time_rate_window", "rate"],
  ["first_attempt_success_rate", "rate"],
  ["lateness_median_s", "duration"],
  ["time_at_door_median_s", "duration"],
  ["stops_per_driver_hour", "perHour"],
  ["eta_dispatch_mae_s", "duration"],
].map(([key, kind]) => ({ key, kind, label: TEXT[`col_${key}`] }));

let drivers = null;
let zones = null;
let view = null;

function link(text, filter) {
  return el("a", { href: pageUrl({ ...view, ...filter }) }, text);
}

export function initTables() {
  drivers = sortableTable(
    $("drivers-table"),
    [
      {
        key: "name",
        kind: "text",
        label: TEXT.col_name,
        value: (row) => row.name ?? (row.driver_id ? t("driverNumber", { id: row.driver_id }) : TEXT.noDriver),
        cell: (row) => {
          const name = row.name ?? (row.driver_id ? t("driverNumber", { id: row.driver_id }) : TEXT.noDriver);
          return row.driver_id ? link(name, { driver_id: String(row.driver_id) }) : name;
        },
      },
      ...FIGURES,
    ],
    { key: "deliveries", descending: true, rowKey: (row) => row.driver_id ?? "" },
  );
  zones = sortableTable(
    $("zones-table"),
    [{ key: "zone", kind: "text", label: TEXT.col_zone, cell: (row) => link(row.zone, { zone: row.zone }) }, ...FIGURES],
    { key: "deliveries", descending: true },
  );
}

export function renderTables(currentView, driverRows, zoneRows) {
  view = currentView;
  drivers.show(driverRows);
  zones.show(zoneRows);
}
