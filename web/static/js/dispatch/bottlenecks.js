// Bottlenecks on the fleet map (docs/pages.md, "Bottlenecks"): three layers to switch on
// (slow roads, long stops, late or failed deliveries; GET /api/insights/bottlenecks, map
// cells of ~150 m as GeoJSON, worst first) over a chosen period, and when time is lost:
// the hour-of-week heat map (GET /api/insights/heatmap) in the operator's time zone.

import { duration, el } from "../format.js";
import { leaflet } from "../map.js";
import { call, showProblem } from "./api.js";
import { $, ui } from "./state.js";

const LAYERS = {
  slow: { name: "Slow roads", color: "#d62728" },
  dwell: { name: "Long stops", color: "#7b3294" },
  late: { name: "Late or failed deliveries", color: "#ff7f0e" },
};
const HEAT_WORDS = { late: "late or failed", slow: "s lost", dwell: "s of stops" };

const shown = new Map(); // layer -> Leaflet GeoJSON layer

export function initBottlenecks() {
  for (const layer of Object.keys(LAYERS)) {
    $(`layer-${layer}`).addEventListener("change", () => toggle(layer));
  }
  $("bottleneck-days").addEventListener("change", () => {
    for (const layer of shown.keys()) load(layer);
    if (!$("heatmap-panel").hidden) loadHeat();
  });
  $("heatmap-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadHeat();
  });
}

function period() {
  const days = Number($("bottleneck-days").value) || 7;
  const to = new Date();
  const from = new Date(to.getTime() - days * 86_400_000);
  return `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
}

function toggle(layer) {
  if ($(`layer-${layer}`).checked) {
    load(layer);
  } else {
    shown.get(layer)?.remove();
    shown.delete(layer);
    status();
  }
}

const counts = new Map(); // layer -> status words

function status() {
  const parts = [...shown.keys()].map((layer) => counts.get(layer)).filter(Boolean);
  $("bottlenecks-status").textContent = parts.join(" ");
}

function describe(layer, p) {
  if (layer === "slow") {
    return `Driven ${(p.driven_mps * 3.6).toFixed(0)} km/h, usually ${(p.usual_mps * 3.6).toFixed(0)} km/h: ${duration(p.lost_s)} lost (${p.steps} steps)`;
  }
  if (layer === "dwell") {
    return `${p.stops} stop${p.stops === 1 ? "" : "s"} by ${p.drivers} courier${p.drivers === 1 ? "" : "s"}: ${duration(p.total_s)} in all, median ${duration(p.median_s)}`;
  }
  return `${p.late} late, ${p.failed} failed of ${p.delivered + p.failed} deliveries and attempts`;
}

async function load(layer) {
  const L = leaflet();
  const result = await call("GET", `/api/insights/bottlenecks?layer=${layer}&${period()}`);
  showProblem($("bottlenecks-problem"), result.ok ? null : result);
  if (!result.ok || !$(`layer-${layer}`).checked) return;
  const body = result.body;
  shown.get(layer)?.remove();
  const { color, name } = LAYERS[layer];
  const n = body.features.length;
  counts.set(
    layer,
    `${name}: ${n} cell${n === 1 ? "" : "s"}${body.truncated ? ` (the ${body.max_features} worst)` : ""}.`,
  );
  if (L && ui.map) {
    const drawn = L.geoJSON(body, {
      className: `bottleneck ${layer}`, // passed on to each cell's polygon
      style: () => ({ color, weight: 1, fillColor: color, fillOpacity: 0.55 }),
      onEachFeature: (feature, shape) => shape.bindTooltip(describe(layer, feature.properties)),
    });
    drawn.addTo(ui.map);
    shown.set(layer, drawn);
    if (n && !ui.moves?.moved) ui.map.fitBounds(drawn.getBounds(), { padding: [30, 30], maxZoom: 15 });
  } else {
    shown.set(layer, { remove() {} });
  }
  status();
}

async function loadHeat() {
  const metric = $("heatmap-metric").value;
  const result = await call("GET", `/api/insights/heatmap?metric=${metric}&${period()}`);
  showProblem($("bottlenecks-problem"), result.ok ? null : result);
  if (!result.ok) return;
  const body = result.body;
  const max = Math.max(0, ...body.values.flat());
  const head = el("tr", {}, el("th", { scope: "col" }, ""), ...[...Array(24).keys()].map((h) => el("th", { scope: "col", "aria-label": `${h}:00` }, h % 3 ? "" : String(h))));
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
        return cell;
      }),
    ),
  );
  $("heatmap").replaceChildren(el("caption", {}, `${body.unit}; hours in ${body.time_zone}`), el("thead", {}, head), el("tbody", {}, ...rows));
  $("heatmap-panel").hidden = false;
}
