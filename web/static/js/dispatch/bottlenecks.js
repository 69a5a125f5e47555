// Bottlenecks on the fleet map (docs/pages.md, "Bottlenecks"): three layers to switch on
// (slow roads, long stops, late or failed deliveries; GET /api/insights/bottlenecks, map
// cells of ~150 m as GeoJSON, worst first) over a chosen period, and when time is lost:
// the hour-of-week heat map (GET /api/insights/heatmap) in the operator's time zone.

import { drawLayer, layerCount, LAYERS, renderHeatmap } from "../bottleneck-layers.js";
import { leaflet } from "../map.js";
import { call, showProblem } from "./api.js";
import { $, ui } from "./state.js";

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

async function load(layer) {
  const L = leaflet();
  const result = await call("GET", `/api/insights/bottlenecks?layer=${layer}&${period()}`);
  showProblem($("bottlenecks-problem"), result.ok ? null : result);
  if (!result.ok || !$(`layer-${layer}`).checked) return;
  const body = result.body;
  shown.get(layer)?.remove();
  counts.set(layer, layerCount(layer, body));
  if (L && ui.map) {
    const drawn = drawLayer(L, ui.map, layer, body);
    shown.set(layer, drawn);
    if (body.features.length && !ui.moves?.moved) ui.map.fitBounds(drawn.getBounds(), { padding: [30, 30], maxZoom: 15 });
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
  renderHeatmap($("heatmap"), result.body, metric);
  $("heatmap-panel").hidden = false;
}
