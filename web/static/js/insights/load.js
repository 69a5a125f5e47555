// One view's answers: the summary, the series, the drivers' and zones' tables, and the zones
// of the period for the zone choice, asked at once. The first refusal wins: 401 (the key is
// gone: dispatch/api.js signs out), 403 (the key may not see insights), 404 (no such driver
// or zone), 422 (a bad period), each with the server's words.

import { call } from "../dispatch/api.js";
import { filterQuery } from "./query.js";

export async function loadView(view) {
  const all = filterQuery(view);
  const period = filterQuery({ from: view.from, to: view.to });
  const [summary, series, drivers, zones, zoneChoice] = await Promise.all([
    call("GET", `/api/insights/summary?${all}`),
    call("GET", `/api/insights/series?${filterQuery(view, { bucket: view.bucket })}`),
    call("GET", `/api/insights/drivers?${all}`),
    call("GET", `/api/insights/zones?${all}`),
    call("GET", `/api/insights/zones?${period}`),
  ]);
  const refused = [summary, series, drivers, zones, zoneChoice].find((r) => !r.ok);
  if (refused) return { ok: false, status: refused.status, error: refused.error };
  return {
    ok: true,
    summary: summary.body,
    series: series.body,
    drivers: drivers.body.rows,
    zones: zones.body.rows,
    zoneChoice: zoneChoice.body.rows,
  };
}
