// The fleet map: drivers' markers clustered, framed on the first snapshot, and the view the
// user moves to sent to the socket as {"type":"viewport"} so only it is kept live.

import { createMap, divIcon, leaflet, trackUserMoves } from "../map.js";
import { $, drivers, isLate, ui } from "./state.js";

const icons = new Map();
let viewportTimer = 0;
let clicked = () => {};

// What a click on the map's background does (main.js: place a new order).
export function onMapClick(handler) {
  clicked = handler;
}

export function ensureMap() {
  const L = leaflet();
  if (ui.map || !L) return;
  ui.map = createMap($("map"), { note: $("tiles-note"), label: "Map of the fleet" });
  ui.moves = trackUserMoves(ui.map);
  ui.cluster = L.markerClusterGroup
    ? L.markerClusterGroup({
        chunkedLoading: true, // big batches are clustered over several frames...
        chunkInterval: 40, // ...at most 40 ms of work per frame
        chunkDelay: 10,
        showCoverageOnHover: false,
        maxClusterRadius: 45,
        disableClusteringAtZoom: 16,
      })
    : L.layerGroup(); // the plugin failed to load: plain markers still work
  ui.cluster.addTo(ui.map);
  ui.detailLayers = L.layerGroup().addTo(ui.map);
  ui.map.on("click", (event) => clicked(event));
  ui.map.on("moveend", () => {
    clearTimeout(viewportTimer);
    viewportTimer = setTimeout(sendViewport, 250);
  });
}

function wrapLon(lon) {
  return ((((lon + 180) % 360) + 360) % 360) - 180;
}

function currentBbox() {
  const b = ui.map.getBounds();
  if (b.getEast() - b.getWest() >= 360) return null;
  const clamp = (lat) => Math.max(-90, Math.min(90, lat));
  return [wrapLon(b.getWest()), clamp(b.getSouth()), wrapLon(b.getEast()), clamp(b.getNorth())]
    .map((v) => Math.round(v * 1e6) / 1e6);
}

function sendViewport() {
  if (!ui.map || !ui.fitted) return; // the first snapshot frames the map; views start after
  const bbox = currentBbox();
  if (JSON.stringify(bbox) === JSON.stringify(ui.viewport)) return;
  ui.viewport = bbox;
  ui.socket?.send({ type: "viewport", bbox });
}

export function inBbox(position, bbox) {
  if (!bbox) return true;
  if (!position) return false;
  const [west, south, east, north] = bbox;
  const inLon =
    west <= east ? position.lon >= west && position.lon <= east : position.lon >= west || position.lon <= east;
  return inLon && position.lat >= south && position.lat <= north;
}

export function iconFor(d) {
  const cls = [
    "driver-marker",
    d.entry.state,
    isLate(d.entry) ? "late" : "",
    ui.selected === d.entry.id ? "selected" : "",
  ]
    .filter(Boolean)
    .join(" ");
  if (!icons.has(cls)) icons.set(cls, divIcon(cls, "", 16));
  return [cls, icons.get(cls)];
}

export function refreshIcon(d) {
  if (!d.marker) return;
  const [cls, icon] = iconFor(d);
  if (cls !== d.iconClass) {
    d.iconClass = cls;
    d.marker.setIcon(icon);
  }
}

export function fitFleet() {
  if (!ui.map || ui.fitted) return;
  const points = [...drivers.values()]
    .filter((d) => d.entry.position)
    .map((d) => [d.entry.position.lat, d.entry.position.lon]);
  if (!points.length) return;
  ui.fitted = true;
  if (ui.moves.moved) return;
  if (points.length === 1) ui.map.setView(points[0], 13);
  else ui.map.fitBounds(leaflet().latLngBounds(points), { padding: [30, 30], maxZoom: 14 });
}
