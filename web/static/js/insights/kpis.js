// The KPI tiles: each figure of the period, and its change against the period before
// (`summary.current`, `summary.previous`), coloured by whether the change is for the better.

import { $, el } from "./dom.js";
import { KINDS, TEXT, figure, t } from "./text.js";

// [figure, kind, better] ; `eta_mae_s` and `window_coverage` read the dispatch horizon.
const TILES = [
  ["deliveries", "count", "higher"],
  ["on_time_rate_promise", "rate", "higher"],
  ["on_time_rate_window", "rate", "higher"],
  ["first_attempt_success_rate", "rate", "higher"],
  ["lateness_median_s", "duration", "lower"],
  ["lateness_p90_s", "duration", "lower"],
  ["time_at_door_median_s", "duration", "lower"],
  ["stops_per_driver_hour", "perHour", "higher"],
  ["eta_mae_s", "duration", "lower"],
  ["window_coverage", "rate", "higher"],
];

function read(figures, name) {
  if (name === "eta_mae_s") return figures.eta?.dispatch?.mae_s ?? null;
  if (name === "window_coverage") return figures.eta?.dispatch?.window_coverage ?? null;
  return figures[name] ?? null;
}

// The change as text and its sense ("better", "worse", "same"), or null when either is null.
export function change(kind, better, now, before) {
  if (now === null || before === null) return null;
  const text = KINDS[kind].change(now, before);
  if (text === null) return null;
  // A change too small to show ("+0.0 min") is no change: no sign, no colour.
  if (!/[1-9]/.test(text)) return { text: text.replace(/^[+-]/, ""), sense: "same" };
  const sense = (now > before) === (better === "higher") ? "better" : "worse";
  return { text, sense };
}

export function renderKpis(summary) {
  const { current, previous } = summary;
  $("compare").textContent = t("compare", { from: previous.from, to: previous.to });
  const tiles = TILES.map(([name, kind, better]) => {
    const now = read(current, name);
    const moved = change(kind, better, now, read(previous, name));
    return el(
      "li",
      { className: "tile", dataset: { kpi: name } },
      el("span", { className: "label" }, TEXT[`kpi_${name}`]),
      el("span", { className: "value" }, figure(kind, now)),
      el(
        "span",
        { className: "change", dataset: { sense: moved?.sense ?? "none" } },
        moved ? moved.text : t("noPrevious"),
      ),
    );
  });
  $("kpis").replaceChildren(...tiles);
}
