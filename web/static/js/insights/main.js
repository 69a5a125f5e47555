// The operator's insights page, /insights (issue 18): delivery performance over a period of
// operator-local days, from GET /api/insights/* (docs/api.md "Insights"): KPI tiles with
// their change against the period before, ETA accuracy by horizon, failure reasons, charts
// of the series, the drivers' and zones' tables, CSV exports. The view (period, driver,
// zone, bucket) lives in the URL so that it can be shared; back and forward move between
// views. Signed in with the dispatcher page's key (dispatcher or admin; support: 403).
//
// The modules: session (sign-in/out), filters (the form), query (the view <-> the URL),
// load (the answers), status (loading, empty, error, 403), kpis, eta, failures, charts
// (uPlot) over buckets, tables over table (sortable), exports, bottlenecks (the layers on a
// map and the hour-of-week heat map), text (every string, and number formats), dom.

import { apiKey, whenKeyRejected } from "../dispatch/api.js";
import { showBottlenecks } from "./bottlenecks.js";
import { renderCharts } from "./charts.js";
import { $ } from "./dom.js";
import { renderEta } from "./eta.js";
import { initExports } from "./exports.js";
import { renderFailures } from "./failures.js";
import { forgetDrivers, initFilters, showFilters } from "./filters.js";
import { renderKpis } from "./kpis.js";
import { loadView } from "./load.js";
import { readView, showView } from "./query.js";
import { initSession, refuseKey, showBoard, showSignin } from "./session.js";
import { showState } from "./status.js";
import { initTables, renderTables } from "./tables.js";
import { t } from "./text.js";

let shown = readView(); // the view on screen (its days as the API counted them)
let loads = 0; // a newer load makes an older answer moot

async function show(view) {
  const mine = ++loads;
  showState("loading");
  const answer = await loadView(view);
  if (mine !== loads) return;
  if (!answer.ok) {
    if (answer.status === 401) return; // whenKeyRejected has signed out
    if (answer.status === 403) showState("forbidden");
    else showState("error", { error: answer.error });
    return;
  }
  const { summary, series } = answer;
  const { from, to, from_at, to_at } = summary.current;
  shown = { ...view, from, to, from_at, to_at };
  showView(shown, { replace: true }); // the API's days: a shared link shows the same period
  $("period").textContent = t("period", { from: shown.from, to: shown.to, zone: summary.time_zone });
  await showFilters(shown, answer.zoneChoice);
  if (mine !== loads) return;
  if (summary.current.attempts === 0) {
    showState("empty", { from: shown.from, to: shown.to });
    return;
  }
  showState("ready");
  renderKpis(summary);
  renderEta(summary);
  renderFailures(summary);
  renderCharts(series);
  renderTables(shown, answer.drivers, answer.zones);
  showBottlenecks(shown);
}

function start() {
  showBoard();
  show(readView());
}

whenKeyRejected(() => refuseKey(t("rejected")));
initSession({
  onSignIn: start,
  onSignOut() {
    loads++;
    forgetDrivers();
    $("report").hidden = true;
  },
});
initFilters((view) => {
  showView(view);
  show(view);
});
initTables();
initExports(() => shown);
window.addEventListener("popstate", () => show(readView()));

if (apiKey()) start();
else showSignin();
