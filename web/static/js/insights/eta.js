// ETA accuracy by horizon (`summary.current.eta`): arrivals measured, mean and p90 absolute
// error, and window coverage, with the mean error's and coverage's change.

import { $, el } from "./dom.js";
import { change } from "./kpis.js";
import { TEXT, figure } from "./text.js";

export const HORIZONS = ["dispatch", "60", "30", "15", "5"];

function cell(kind, better, now, before) {
  const moved = change(kind, better, now, before);
  return el(
    "td",
    { className: "num" },
    figure(kind, now),
    moved ? el("span", { className: "change", dataset: { sense: moved.sense } }, moved.text) : null,
  );
}

export function renderEta(summary) {
  const head = el(
    "tr",
    {},
    ...["eta_horizon", "eta_n", "eta_mae_s", "eta_p90_abs_error_s", "eta_window_coverage"].map(
      (key) => el("th", { scope: "col" }, TEXT[key]),
    ),
  );
  const rows = HORIZONS.map((h) => {
    const now = summary.current.eta?.[h] ?? {};
    const before = summary.previous.eta?.[h] ?? {};
    return el(
      "tr",
      { dataset: { horizon: h } },
      el("th", { scope: "row" }, TEXT[`horizon_${h}`]),
      el("td", { className: "num" }, figure("count", now.n ?? 0)),
      cell("duration", "lower", now.mae_s ?? null, before.mae_s ?? null),
      el("td", { className: "num" }, figure("duration", now.p90_abs_error_s ?? null)),
      cell("rate", "higher", now.window_coverage ?? null, before.window_coverage ?? null),
    );
  });
  $("eta-table").replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
}
