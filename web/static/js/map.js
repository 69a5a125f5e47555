// Map helpers over Leaflet (loaded as a classic script from /static/vendor/leaflet): a map
// with the configured tiles that says so when they cannot load, markers drawn as plain DOM
// (no image files), and GeoJSON helpers. Pages stay usable when Leaflet is missing.
// Vector tiles (the server's own basemap at /tiles, or a .pbf/.mvt TRACKER_TILE_URL) are
// drawn by protomaps-leaflet (a classic script from /static/vendor/protomaps-leaflet, the
// global `protomapsL`) in the style of basemap.js; raster tiles by Leaflet itself.
import { basemapStyle } from "./basemap.js";
import { config } from "/static/config.js";

const VECTOR_MAX_DATA_ZOOM = 14; // the deepest tiles `tracker tiles build` writes

export function leaflet() {
  return window.L ?? null;
}

// A map in `element`. `note` is an element shown when tiles fail (markers, routes and
// numbers keep working over the blank background).
export function createMap(element, { note, label } = {}) {
  const L = leaflet();
  if (!L) return null;
  const map = L.map(element, { zoomControl: true, attributionControl: true, worldCopyJump: true });
  if (label) element.setAttribute("aria-label", label);
  map.setView([20, 0], 2);
  if (config.tileKind === "vector") {
    addVectorTiles(L, map, note);
  } else {
    addRasterTiles(L, map, note);
  }
  return map;
}

function addRasterTiles(L, map, note) {
  const tiles = L.tileLayer(config.tileUrl, {
    maxZoom: 19,
    attribution: config.tileAttribution,
    crossOrigin: false,
  });
  let failed = 0;
  let loaded = 0;
  const update = () => {
    if (note) note.hidden = !(failed > 0 && loaded === 0);
  };
  tiles.on("tileerror", () => {
    failed += 1;
    update();
  });
  tiles.on("tileload", () => {
    loaded += 1;
    update();
  });
  tiles.addTo(map);
}

// protomaps-leaflet draws a tile whatever its fetch gave (an empty one on failure), so a
// missing basemap is told by its TileJSON (ours) rather than by tile events.
function addVectorTiles(L, map, note) {
  const P = window.protomapsL;
  const say = (failed) => {
    if (note) note.hidden = !failed;
  };
  if (!P) {
    map.attributionControl.addAttribution(config.tileAttribution);
    say(true);
    return;
  }
  const style = basemapStyle(P);
  const layer = P.leafletLayer({
    url: config.tileUrl,
    maxZoom: 19,
    maxDataZoom: VECTOR_MAX_DATA_ZOOM,
    attribution: config.tileAttribution,
    ...style,
  });
  layer.addTo(map);
  map.getContainer().style.background = style.backgroundColor;
  if (config.tileJson) {
    fetch(config.tileJson, { cache: "no-cache" })
      .then((response) => say(!response.ok))
      .catch(() => say(true));
  }
}

export function divIcon(className, html = "", size = 22) {
  const L = leaflet();
  return L.divIcon({ className, html, iconSize: [size, size], iconAnchor: [size / 2, size / 2] });
}

// GeoJSON LineString (or a Feature holding one) -> Leaflet [lat, lon] pairs.
export function lineLatLngs(route) {
  const geometry = route?.type === "Feature" ? route.geometry : route;
  if (!geometry || geometry.type !== "LineString") return [];
  return geometry.coordinates.map(([lon, lat]) => [lat, lon]);
}

// Whether the user has moved the map: then we stop re-framing it for them.
export function trackUserMoves(map) {
  const state = { moved: false };
  const mark = () => {
    state.moved = true;
  };
  map.on("dragstart", mark);
  map.getContainer().addEventListener("wheel", mark, { passive: true });
  map.getContainer().addEventListener("keydown", (event) => {
    if (event.key.startsWith("Arrow") || event.key === "+" || event.key === "-") mark();
  });
  map.zoomControl?.getContainer().addEventListener("click", mark);
  return state;
}
