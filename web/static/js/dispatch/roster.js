// Every driver, for the "assign to" selects: GET /api/drivers (the fleet lists only drivers
// with a run or a connection; a new driver has neither yet). Read again at most every 30 s.

import { el } from "../format.js";
import { call } from "./api.js";
import { drivers } from "./state.js";

const FRESH_MS = 30_000;
const byName = new Intl.Collator(undefined, { numeric: true }).compare;

let roster = [];
let readAt = 0;

async function readRoster() {
  if (Date.now() - readAt < FRESH_MS) return;
  const result = await call("GET", "/api/drivers");
  if (!result.ok || !Array.isArray(result.body)) return; // the fleet's drivers still serve
  roster = result.body.map((d) => ({ id: d.id, name: d.name, vehicle: d.vehicle }));
  readAt = Date.now();
}

function known() {
  const all = new Map(roster.map((d) => [d.id, d]));
  for (const { entry } of drivers.values()) all.set(entry.id, entry);
  return [...all.values()].sort((a, b) => byName(a.name, b.name) || a.id - b.id);
}

// Fill `select` with every driver (after `first`, an option like ["", "nobody"]), keeping
// its choice, or choosing `chosen` when given.
export async function fillDriverSelect(select, { first = null, chosen = undefined } = {}) {
  await readRoster();
  const keep = chosen === undefined ? select.value : String(chosen ?? "");
  const options = known().map((d) =>
    el("option", { value: String(d.id) }, `${d.name}${d.vehicle ? ` (${d.vehicle})` : ""}`),
  );
  if (first) options.unshift(el("option", { value: first[0] }, first[1]));
  select.replaceChildren(...options);
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

// A driver's name: as the fleet shows it, else as GET /api/drivers said.
export function nameOf(id) {
  return drivers.get(id)?.entry.name ?? roster.find((d) => d.id === id)?.name ?? `driver #${id}`;
}

export function forgetRoster() {
  roster = [];
  readAt = 0;
}
