// The filter form: the period (operator-local days), a driver, a zone, the charts' bucket.
// A change makes a new view (main.js puts it in the URL and loads it). Drivers come from
// GET /api/drivers; zones from the zones table of the period (every zone with something
// recorded in it), so the choice offers only zones there is something to see in.

import { call } from "../dispatch/api.js";
import { $, el } from "./dom.js";
import { TEXT } from "./text.js";

const byName = new Intl.Collator(undefined, { numeric: true }).compare;
let drivers = null; // [{id, name}], read once per sign-in

export function initFilters(onChange) {
  $("filters").addEventListener("change", () => {
    const from = $("from").value;
    const to = $("to").value;
    if (!from || !to) return; // a half-typed day: wait for the whole one
    onChange({
      from,
      to,
      driver_id: $("driver").value,
      zone: $("zone").value,
      bucket: $("bucket").value,
    });
  });
  $("filters").addEventListener("submit", (event) => event.preventDefault());
}

export function forgetDrivers() {
  drivers = null;
}

function fill(select, first, options, chosen) {
  select.replaceChildren(el("option", { value: "" }, first), ...options.map(([value, label]) => el("option", { value }, label)));
  if (chosen && ![...select.options].some((o) => o.value === chosen)) select.append(el("option", { value: chosen }, chosen));
  select.value = chosen;
}

// Show `view` (as the API answered it: its days are the period counted) in the form.
export async function showFilters(view, zoneRows) {
  $("from").value = view.from;
  $("to").value = view.to;
  $("bucket").value = view.bucket;
  if (drivers === null) {
    const result = await call("GET", "/api/drivers");
    drivers = result.ok && Array.isArray(result.body) ? result.body.map((d) => ({ id: d.id, name: d.name })) : [];
    drivers.sort((a, b) => byName(a.name, b.name) || a.id - b.id);
  }
  fill($("driver"), TEXT.allDrivers, drivers.map((d) => [String(d.id), d.name]), view.driver_id);
  const zones = zoneRows.map((row) => row.zone).sort();
  fill($("zone"), TEXT.allZones, zones.map((z) => [z, z]), view.zone);
}
