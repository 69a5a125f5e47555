// The bottleneck layers on /insights (docs/pages.md "Insights page"): slow roads, long stops,
// late or failed deliveries (GET /api/insights/bottlenecks, cells of ~150 m) on a Leaflet
// map, each a toggle with its colour and rule in the legend, and the hour-of-week heat map
// (GET /api/insights/heatmap) with its numbers, for the period on screen: the instants the
// summary counted (`from_at`..`to_at`, the operator-local days). The layers are the whole
// fleet's (the API has no driver or zone filter; the panel says so). Drawing is shared with
// the fleet map (../bottleneck-layers.js). Leaflet is loaded on first use; without it the
// counts, legend and heat map still show.

import { drawLayer, LAYERS, layerCount, renderHeatmap } from "../bottleneck-layers.js";
import { call, problemText } from "../dispatch/api.js";
import { loadLeaflet } from "../leaflet-loader.js";
import { createMap, leaflet, trackUserMoves } from "../map.js";
import { $ } from "./dom.js";
import { t } from "./text.js";

let period = null; // { from, to }: the instants of the view on screen
let map = null;
let moves = null;
let loads = 0; // a newer period or toggle makes an older answer moot
const drawn = new Map(); // layer -> Leaflet layer
let started = false;

function start() {
  started = true;
  for (const layer of Object.keys(LAYERS)) {
    $(`layer-${layer}`).addEventListener("change", () => period && showLayers());
  }
  $("heatmap-metric").addEventListener("change", () => period && showHeat());
}

function query() {
  return `from=${encodeURIComponent(period.from)}&to=${encodeURIComponent(period.to)}`;
}

async function ensureMap() {
  if (map) return map;
  try {
    await loadLeaflet();
  } catch {
    return null; // the legend, counts and heat map still work
  }
  if (map || !leaflet()) return map;
  map = createMap($("bottlenecks-map"), { note: $("bottlenecks-tiles"), label: t("bottlenecksMap") });
  moves = map ? trackUserMoves(map) : null;
  return map;
}

// Called by main.js after every load, with the view on screen.
export function showBottlenecks(view) {
  if (!started) start();
  $("bottlenecks").hidden = false;
  const next = { from: view.from_at, to: view.to_at };
  const same = period && period.from === next.from && period.to === next.to;
  period = next;
  const failed = [$("bottlenecks-state"), $("heatmap-state")].some((line) => line.dataset.state === "error");
  if (same && !failed) return; // a driver or zone change: the layers do not depend on them
  if (moves) moves.moved = false; // a new period: frame its cells again
  showLayers();
  showHeat();
}

function setState(id, kind, text) {
  const line = $(id);
  line.dataset.state = kind;
  line.textContent = text;
  line.classList.toggle("problem", kind === "error");
}

async function showLayers() {
  const mine = ++loads;
  const layers = Object.keys(LAYERS).filter((layer) => $(`layer-${layer}`).checked);
  setState("bottlenecks-state", "loading", t("bottlenecksLoading"));
  const [L, answers] = await Promise.all([
    ensureMap(),
    Promise.all(layers.map((layer) => call("GET", `/api/insights/bottlenecks?layer=${layer}&${query()}`))),
  ]);
  if (mine !== loads) return;
  for (const shape of drawn.values()) shape.remove();
  drawn.clear();
  for (const layer of Object.keys(LAYERS)) $(`legend-${layer}`).textContent = "";
  // (a layer switched off keeps no count: its legend line is its toggle alone)
  const refused = answers.find((answer) => !answer.ok);
  if (refused) {
    setState("bottlenecks-state", "error", t("bottlenecksError", { error: problemText(refused) }));
    return;
  }
  let cells = 0;
  const bounds = [];
  layers.forEach((layer, i) => {
    const body = answers[i].body;
    cells += body.features.length;
    const legend = $(`legend-${layer}`);
    legend.textContent = t(`legend_${layer}`, { count: layerCount(layer, body) });
    legend.title = body.rule; // the API's exact rule, for who wants it
    if (L && leaflet()) {
      const shape = drawLayer(leaflet(), L, layer, body);
      drawn.set(layer, shape);
      if (body.features.length) bounds.push(shape.getBounds());
    }
  });
  if (L) {
    L.invalidateSize();
    if (bounds.length && !moves?.moved) {
      const all = bounds.reduce((a, b) => a.extend(b));
      L.fitBounds(all, { padding: [30, 30], maxZoom: 15 });
    }
  }
  if (!layers.length) setState("bottlenecks-state", "empty", t("bottlenecksNoLayer"));
  else if (!cells) setState("bottlenecks-state", "empty", t("bottlenecksNone"));
  else setState("bottlenecks-state", "ready", "");
}

let heats = 0;

async function showHeat() {
  const mine = ++heats;
  const metric = $("heatmap-metric").value;
  setState("heatmap-state", "loading", t("bottlenecksLoading"));
  const answer = await call("GET", `/api/insights/heatmap?metric=${metric}&${query()}`);
  if (mine !== heats) return;
  const table = $("heatmap");
  if (!answer.ok) {
    table.replaceChildren();
    setState("heatmap-state", "error", t("heatmapError", { error: problemText(answer) }));
    return;
  }
  renderHeatmap(table, answer.body, metric, { numbers: true });
  const any = answer.body.values.flat().some((value) => value > 0);
  if (any) setState("heatmap-state", "ready", "");
  else setState("heatmap-state", "empty", t(`heatmapNone_${metric}`));
}
