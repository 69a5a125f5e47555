// A driver's detail, for the one selected from the list or the map: facts (phone, battery,
// app, last fix age), stops with ETAs (reorderable: runedit.js), a message to the courier
// (courier.js), and on the map the run's routes and stops (GET /api/orders) and the recent
// trail (GET /api/drivers/{id}/track when the server has it, else what this page has seen).

import { ago, clockTime, dateTime, el, parseTime } from "../format.js";
import { divIcon, leaflet, lineLatLngs } from "../map.js";
import { api } from "./api.js";
import { APP_NAMES, courierInfo, initCourier, loadCourier, refreshFinished } from "./courier.js";
import { refreshIcon } from "./fleetmap.js";
import { renderList } from "./list.js";
import { closeReplay, replayFollows } from "./replay.js";
import { scheduleRender } from "./render.js";
import { forgetStops, renderStops } from "./runedit.js";
import { $, drivers, TRAIL_MAX, ui } from "./state.js";

const AGE_TICK_MS = 5000; // "last fix 12 s ago" kept current between deltas

export function initDetail() {
  $("detail-close").addEventListener("click", closeDetail);
  initCourier();
  setInterval(() => {
    if (ui.selected !== null) renderFacts(drivers.get(ui.selected));
  }, AGE_TICK_MS);
}

export function select(id) {
  const previous = ui.selected;
  ui.selected = id;
  for (const other of [previous, id]) {
    const d = drivers.get(other);
    if (d) {
      d.version += 1;
      refreshIcon(d);
    }
  }
  ui.detailSignature = "";
  forgetStops();
  replayFollows(id);
  $("detail").hidden = false;
  loadCourier(id, () => renderFacts(drivers.get(id)));
  const d = drivers.get(id);
  if (ui.map && d?.marker && ui.cluster.zoomToShowLayer) {
    ui.cluster.zoomToShowLayer(d.marker); // out of its cluster, so the selection shows
  } else if (ui.map && d?.entry.position) {
    ui.map.setView([d.entry.position.lat, d.entry.position.lon], Math.max(ui.map.getZoom(), 14));
  }
  if (ui.trackApi) loadTrack(id);
  renderDetail();
  renderList();
}

export function closeDetail() {
  const previous = drivers.get(ui.selected);
  ui.selected = null;
  if (previous) {
    previous.version += 1;
    refreshIcon(previous);
  }
  $("detail").hidden = true;
  ui.detailLayers?.clearLayers();
  closeReplay();
  scheduleRender();
}

function fact(term, value) {
  return [el("dt", {}, term), el("dd", {}, value || "–")];
}

function renderFacts(d) {
  if (!d) return;
  const e = d.entry;
  const p = e.position;
  const info = courierInfo?.id === e.id ? courierInfo : null;
  const stop = e.current_stop;
  const window_ = stop?.eta?.window;
  const battery = e.battery ?? info?.battery;
  const app = e.app ?? info?.app;
  const fixAt = p?.at ?? info?.last_fix_at;
  $("detail-facts").replaceChildren(
    ...fact("Vehicle", e.vehicle),
    ...fact("Phone", info?.phone ?? (info ? "not given" : "")),
    ...fact("State", `${e.state}${d.offRoute ? ", off route" : ""}`),
    ...fact("App", app ? (APP_NAMES[app] ?? app) : "none yet"),
    ...fact("Battery", battery != null ? `${Math.round(battery * 100)} %` : "not reported"),
    ...fact("Last fix", fixAt ? `${ago(fixAt)} (${dateTime(fixAt)})` : "none yet"),
    ...fact("Speed", p?.speed != null ? `${Math.round(p.speed * 3.6)} km/h` : ""),
    ...fact(
      "Current stop",
      stop
        ? `${stop.reference ?? `#${stop.order_id}`}, ETA ${stop.eta ? clockTime(stop.eta.eta) : "–"}` +
            (window_ ? ` (${clockTime(window_[0])}–${clockTime(window_[1])})` : "")
        : "",
    ),
  );
}

export function renderDetail() {
  const d = drivers.get(ui.selected);
  if (!d) return;
  $("detail-heading").textContent = d.entry.name;
  renderFacts(d);
  renderStops(d);
  const first = d.trail[0];
  $("detail-trail").textContent = d.trail.length
    ? `Trail on the map: ${d.trail.length} position${d.trail.length === 1 ? "" : "s"} since ${clockTime(first[2])}.`
    : "No positions seen yet.";
  drawDetailLayers(d);
}

// Routes and stops are fetched when the run changes; the trail is redrawn as it grows.
function drawDetailLayers(d) {
  const L = leaflet();
  if (!L || !ui.detailLayers) return;
  if (!d.trailLine) d.trailLine = L.polyline([], { className: "trail-line", weight: 3, interactive: false });
  d.trailLine.setLatLngs(d.trail.map(([lat, lon]) => [lat, lon]));
  const signature = JSON.stringify(d.entry.orders.map((o) => [o.id, o.status, o.stop_index]));
  if (signature !== ui.detailSignature) {
    if (ui.detailSignature) refreshFinished(d.entry.id); // a stop may have left the run
    ui.detailSignature = signature;
    ui.detailLayers.clearLayers();
    ui.detailLayers.addLayer(d.trailLine);
    const inOrder = [...d.entry.orders].sort((a, b) => (a.stop_index ?? 0) - (b.stop_index ?? 0));
    loadRun(d.entry.id, inOrder.map((o) => o.id));
  } else if (!ui.detailLayers.hasLayer(d.trailLine)) {
    ui.detailLayers.addLayer(d.trailLine);
  }
}

// `orderIds` in run order: stop markers are numbered by it (stop indexes may have gaps).
async function loadRun(driverId, orderIds) {
  if (!orderIds.length) return;
  let orders;
  try {
    // Open statuses only: a driver's finished orders would crowd the run out of the page.
    const open = "confirmed,processing,packed,shipped,out_for_delivery,arrived";
    const response = await api(`/api/orders?driver_id=${driverId}&status=${open}&limit=500`);
    if (!response.ok) return;
    orders = (await response.json()).orders;
  } catch {
    return;
  }
  if (ui.selected !== driverId) return;
  const L = leaflet();
  const wanted = new Map(orderIds.map((id, i) => [id, i]));
  for (const order of orders.filter((o) => wanted.has(o.id))) {
    const line = lineLatLngs(order.route);
    if (line.length) {
      ui.detailLayers.addLayer(L.polyline(line, { className: "route-line", weight: 4, interactive: false }));
    }
    const d = order.destination;
    const label = String(wanted.get(order.id) + 1);
    ui.detailLayers.addLayer(
      L.marker([d.lat, d.lon], {
        icon: divIcon("stop-marker", label, 22),
        title: `Stop ${label}: ${order.reference ?? `#${order.id}`}`,
        keyboard: false,
      }),
    );
  }
}

// History from GET /api/drivers/{id}/track (GeoJSON Point features, `recorded_at` in their
// properties; docs/api.md) when the server has it; otherwise the trail is what this page has
// seen in deltas.
async function loadTrack(driverId) {
  const from = new Date(Date.now() - 3600_000).toISOString();
  let body;
  try {
    const response = await api(`/api/drivers/${driverId}/track?from=${encodeURIComponent(from)}`);
    if (response.status === 404 || response.status === 405) {
      ui.trackApi = false;
      return;
    }
    if (!response.ok) return;
    body = await response.json();
  } catch {
    return;
  }
  const d = drivers.get(driverId);
  if (!d) return;
  const coords = [];
  const take = (geometry, properties) => {
    if (geometry?.type === "LineString") {
      const times = properties?.times ?? properties?.coordTimes ?? [];
      geometry.coordinates.forEach(([lon, lat], i) => coords.push([lat, lon, times[i] ?? null]));
    } else if (geometry?.type === "Point") {
      const [lon, lat] = geometry.coordinates;
      coords.push([lat, lon, properties?.recorded_at ?? properties?.at ?? properties?.time ?? null]);
    }
  };
  if (body.type === "FeatureCollection") body.features.forEach((f) => take(f.geometry, f.properties));
  else if (body.type === "Feature") take(body.geometry, body.properties);
  else take(body, {});
  const newest = parseTime(coords[coords.length - 1]?.[2])?.getTime() ?? 0;
  const seen = d.trail.filter(([, , at]) => (parseTime(at)?.getTime() ?? 0) > newest);
  d.trail = [...coords, ...seen].slice(-TRAIL_MAX);
  if (ui.selected === driverId) renderDetail();
}
