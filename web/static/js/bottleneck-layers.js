// The bottleneck layers and the hour-of-week heat map, drawn the same way on the fleet map
// (dispatch/bottlenecks.js) and on the insights page (insights/bottlenecks.js); docs/pages.md
// "Bottlenecks". Each page fetches (GET /api/insights/bottlenecks, /heatmap) and keeps its
// own controls; this module knows the layers' names and colours, how a cell is described,
// how a collection becomes a Leaflet layer, and how a heat map answer becomes a table.

import { duration, el } from "./format.js";

export const LAYERS = {
  slow: { name: "Slow roads", color: "#d62728" },
  dwell: { name: "Long stops", color: "#7b3294" },
  late: { name: "Late or failed deliveries", color: "#ff7f0e" },
};
export const HEAT_WORDS = { late: "late or failed", slow: "s lost", dwell: "s of stops" };

// "Slow roads: 3 cells." (with the cap when the answer was truncated).
export function layerCount(layer, body) {
  const n = body.features.length;
  const capped = body.truncated ? ` (the ${body.max_features} worst)` : "";
  return `${LAYERS[layer].name}: ${n} cell${n === 1 ? "" : "s"}${capped}.`;
}

export function describe(layer, p) {
  if (layer === "slow") {
    const source = p.usual_from === "profile" ? "learned speed profile" : "this place's history";
    return `Driven ${(p.driven_mps * 3.6).toFixed(0)} km/h, usually ${(p.usual_mps * 3.6).toFixed(0)} km/h (${source}): ${duration(p.lost_s)} lost (${p.steps} steps)`;
  }
  if (layer === "dwell") {
    return `${p.stops} stop${p.stops === 1 ? "" : "s"} by ${p.drivers} courier${p.drivers === 1 ? "" : "s"}: ${duration(p.total_s)} in all, median ${duration(p.median_s)}`;
  }
  return `${p.late} late, ${p.failed} failed of ${p.delivered + p.failed} deliveries and attempts`;
}

// A layer's cells as a Leaflet GeoJSON layer on `map` (each polygon has the classes
// `bottleneck <layer>`, and a tooltip describing the cell).
export function drawLayer(L, map, layer, body) {
  const { color } = LAYERS[layer];
  const drawn = L.geoJSON(body, {
    className: `bottleneck ${layer}`, // passed on to each cell's polygon
    style: () => ({ color, weight: 1, fillColor: color, fillOpacity: 0.55 }),
    onEachFeature: (feature, shape) => shape.bindTooltip(describe(layer, feature.properties)),
  });
  drawn.addTo(map);
  return drawn;
}

// The heat map answer as the rows of `table` (7 days × 24 hours, shaded by share of the
// largest value; each cell's `data-value` is the API's value). With `numbers`, every hour
// that has a value also writes it: a count for `late`, whole minutes for the others.
export function renderHeatmap(table, body, metric, { numbers = false } = {}) {
  const max = Math.max(0, ...body.values.flat());
  const label = (h) => (numbers || h % 3 === 0 ? String(h) : "");
  const head = el(
    "tr",
    {},
    el("th", { scope: "col" }, ""),
    ...[...Array(24).keys()].map((h) => el("th", { scope: "col", "aria-label": `${h}:00` }, label(h))),
  );
  const rows = body.days.map((day, d) =>
    el(
      "tr",
      {},
      el("th", { scope: "row" }, day),
      ...body.values[d].map((value, h) => {
        const share = max > 0 ? Math.max(0, value) / max : 0;
        const cell = el("td", { title: `${day} ${h}:00: ${Math.round(value)} ${HEAT_WORDS[metric]} (${body.counts[d][h]})` });
        cell.style.backgroundColor = `rgba(214, 39, 40, ${share.toFixed(2)})`;
        cell.dataset.value = String(value);
        if (numbers && value > 0) {
          cell.textContent = String(heatFigure(metric, value));
          if (share > 0.6) cell.classList.add("dark");
        }
        return cell;
      }),
    ),
  );
  const unit = numbers && metric !== "late" ? "minutes" : body.unit;
  table.replaceChildren(
    el("caption", {}, `${unit}; hours in ${body.time_zone}`),
    el("thead", {}, head),
    el("tbody", {}, ...rows),
  );
}

// What a heat map cell writes: late and failed deliveries as counted, seconds as minutes.
export function heatFigure(metric, value) {
  return metric === "late" ? Math.round(value) : Math.round(value / 60);
}
