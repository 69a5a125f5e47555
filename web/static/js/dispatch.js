// The dispatcher's page, /dispatch: every driver live on one map (clustered), a filterable
// list beside it, a driver's detail (route, stops with ETAs, recent trail) and an alerts
// feed. Data: WS /ws/fleet (snapshot, then a delta per second, alerts at once), limited to
// the map's view with {"type":"viewport"}; a driver's orders from GET /api/orders.
// Thousands of drivers: markers are updated in place, a delta touches the DOM once
// (list rendering is coalesced into one animation frame, and capped).
import { clockTime, dateTime, el, parseTime, statusLabel } from "./format.js";
import { createMap, divIcon, leaflet, lineLatLngs, trackUserMoves } from "./map.js";
import { tokenSocket } from "./socket.js";

const KEY_STORAGE = "tracker.dispatch.key";
const LIST_LIMIT = 300;
const TRAIL_MAX = 500;
const ALERTS_MAX = 100;
const BULK_MOVE = 200; // more moved markers than this: remove + re-add in bulk
const STATE_ORDER = { delivering: 0, idle: 1, offline: 2 };
const $ = (id) => document.getElementById(id);

const drivers = new Map(); // id -> {entry, marker, iconClass, trail, offRoute, inView, row, version, rowVersion}
const ui = {
  socket: null,
  map: null,
  moves: null,
  cluster: null,
  detailLayers: null,
  selected: null,
  detailSignature: "",
  viewport: null,
  viewportTimer: 0,
  renderPending: false,
  fitted: false,
  trackApi: true, // GET /api/drivers/{id}/track answers (until it says 404)
};
const icons = new Map();

// --- sign in -------------------------------------------------------------------------------

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

function showSignin(error) {
  $("board").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  const message = $("signin-error");
  message.textContent = error || "";
  message.hidden = !error;
  $("api-key").focus();
}

function signOut(error) {
  sessionStorage.removeItem(KEY_STORAGE);
  ui.socket?.stop();
  ui.socket = null;
  for (const d of drivers.values()) d.row?.remove();
  drivers.clear();
  ui.cluster?.clearLayers();
  ui.detailLayers?.clearLayers();
  ui.selected = null;
  ui.fitted = false;
  $("detail").hidden = true;
  $("alerts").replaceChildren();
  setConnection("stopped", "Signed out");
  showSignin(error);
}

$("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (!key) return;
  sessionStorage.setItem(KEY_STORAGE, key);
  $("api-key").value = "";
  startBoard(key);
});
$("signout").addEventListener("click", () => signOut());

function setConnection(state, text) {
  $("connection").dataset.state = state;
  $("connection").textContent = text;
}

function startBoard(key) {
  $("signin").hidden = true;
  $("board").hidden = false;
  $("signout").hidden = false;
  ensureMap();
  ui.socket = tokenSocket("/ws/fleet", key, {
    onOpen(socket) {
      if (ui.viewport) socket.send({ type: "viewport", bbox: ui.viewport });
    },
    onMessage,
    onState(info) {
      if (info.state === "stopped" && (info.code === 4401 || info.code === 4403)) {
        signOut("That key was not accepted. Check it, or ask an admin for a dispatcher key.");
        return;
      }
      const text = {
        open: "Live",
        connecting: "Connecting…",
        offline: "Offline: will reconnect when the network is back",
        waiting: `Connection lost; retrying in ${Math.ceil((info.retryInMs || 0) / 1000)} s`,
        stopped: "Not connected",
      }[info.state];
      setConnection(info.state, text);
    },
  });
  ui.socket.start();
}

// --- map -----------------------------------------------------------------------------------

function ensureMap() {
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
  ui.map.on("moveend", () => {
    clearTimeout(ui.viewportTimer);
    ui.viewportTimer = setTimeout(sendViewport, 250);
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

function inBbox(position, bbox) {
  if (!bbox) return true;
  if (!position) return false;
  const [west, south, east, north] = bbox;
  const inLon =
    west <= east ? position.lon >= west && position.lon <= east : position.lon >= west || position.lon <= east;
  return inLon && position.lat >= south && position.lat <= north;
}

function isLate(entry) {
  return entry.orders.some((o) => o.late);
}

function iconFor(d) {
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

function refreshIcon(d) {
  if (!d.marker) return;
  const [cls, icon] = iconFor(d);
  if (cls !== d.iconClass) {
    d.iconClass = cls;
    d.marker.setIcon(icon);
  }
}

function fitFleet() {
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

// --- the live data -------------------------------------------------------------------------

function driverName(id) {
  return drivers.get(id)?.entry.name ?? `driver #${id}`;
}

function orderName(driverId, orderId) {
  const order = drivers.get(driverId)?.entry.orders.find((o) => o.id === orderId);
  return order?.reference ? `order ${order.reference}` : `order #${orderId}`;
}

function upsert(entry, derive, added, moved) {
  let d = drivers.get(entry.id);
  if (!d) {
    d = { entry, marker: null, iconClass: "", trail: [], offRoute: false, inView: true,
          row: null, version: 0, rowVersion: "" };
    drivers.set(entry.id, d);
  }
  const before = d.entry;
  d.entry = entry;
  d.version += 1;
  if (derive && before !== entry) {
    if (before.online && !entry.online) addAlert(null, `${entry.name} went offline`, true);
    if (!before.online && entry.online) addAlert(null, `${entry.name} is back online`);
    const wasLate = new Set(before.orders.filter((o) => o.late).map((o) => o.id));
    for (const o of entry.orders) {
      if (o.late && !wasLate.has(o.id)) {
        addAlert(null, `${orderName(entry.id, o.id)} (${entry.name}) is late`, true);
      }
    }
  }
  const p = entry.position;
  if (p) {
    const last = d.trail[d.trail.length - 1];
    if (!last || last[2] !== p.at) {
      d.trail.push([p.lat, p.lon, p.at]);
      if (d.trail.length > TRAIL_MAX) d.trail.splice(0, d.trail.length - TRAIL_MAX);
    }
    if (ui.map) {
      if (!d.marker) {
        const [cls, icon] = iconFor(d);
        d.iconClass = cls;
        d.marker = leaflet().marker([p.lat, p.lon], { icon, title: entry.name, keyboard: false });
        d.marker.on("click", () => select(entry.id));
        added.push(d.marker);
      } else {
        const at = d.marker.getLatLng();
        if (at.lat !== p.lat || at.lng !== p.lon) moved.push([d.marker, [p.lat, p.lon]]);
        refreshIcon(d);
      }
    }
  } else if (d.marker) {
    ui.cluster.removeLayer(d.marker);
    d.marker = null;
  }
}

function apply(entries, isSnapshot) {
  const hadDrivers = drivers.size > 0;
  const added = [];
  const moved = [];
  const seen = new Set();
  for (const entry of entries) {
    seen.add(entry.id);
    // Alerts come from changes to drivers already on the page: a later snapshot (a new
    // viewport, a reconnect) can carry a change too, the first one cannot.
    upsert(entry, !isSnapshot || hadDrivers, added, moved);
    drivers.get(entry.id).inView = isSnapshot || inBbox(entry.position, ui.viewport);
  }
  if (isSnapshot) {
    for (const [id, d] of drivers) {
      if (seen.has(id)) continue;
      if (ui.viewport) d.inView = false; // outside the view: kept, marked not live
      else forget(id); // the whole fleet, and this one is not in it
    }
  }
  if (ui.cluster) {
    if (moved.length > BULK_MOVE && ui.cluster.addLayers) {
      // Many moved: rebuilding the clusters at once beats moving markers one by one
      // through them (addLayers is chunked over frames by chunkedLoading).
      ui.cluster.clearLayers();
      for (const [marker, latLng] of moved) marker.setLatLng(latLng);
      const all = [];
      for (const d of drivers.values()) if (d.marker) all.push(d.marker);
      ui.cluster.addLayers(all); // includes the new ones
    } else {
      for (const [marker, latLng] of moved) marker.setLatLng(latLng);
      if (added.length) ui.cluster.addLayers(added);
    }
  }
  scheduleRender();
}

function forget(id) {
  const d = drivers.get(id);
  if (d?.marker) ui.cluster.removeLayer(d.marker);
  d?.row?.remove();
  drivers.delete(id);
  if (ui.selected === id) closeDetail();
}

const ALERT_TEXT = {
  arriving: (a) => `${driverName(a.driver_id)} is arriving at ${orderName(a.driver_id, a.order_id)}`,
  arrived: (a) => `${driverName(a.driver_id)} arrived at ${orderName(a.driver_id, a.order_id)}`,
  passed: (a) =>
    `${driverName(a.driver_id)} passed ${orderName(a.driver_id, a.order_id)} without stopping`,
  off_route: (a) => `${driverName(a.driver_id)} left the route`,
  back_on_route: (a) => `${driverName(a.driver_id)} is back on the route`,
};
const BAD_ALERTS = new Set(["off_route", "passed"]);

function onAlert(alert) {
  const d = drivers.get(alert.driver_id);
  if (d && (alert.kind === "off_route" || alert.kind === "back_on_route")) {
    d.offRoute = alert.kind === "off_route";
    d.version += 1;
    scheduleRender();
  }
  const describe = ALERT_TEXT[alert.kind] ?? ((a) => `${driverName(a.driver_id)}: ${a.kind}`);
  const detail = typeof alert.detail === "string" && alert.detail ? ` (${alert.detail})` : "";
  addAlert(alert.at, describe(alert) + detail, BAD_ALERTS.has(alert.kind), alert.kind);
}

function addAlert(at, text, bad = false, kind = "") {
  const item = el(
    "li",
    { className: bad ? "bad" : "", dataset: { kind } },
    el("time", { dateTime: at ?? new Date().toISOString() }, clockTime(at ?? new Date())),
    text,
  );
  const list = $("alerts");
  list.prepend(item);
  while (list.children.length > ALERTS_MAX) list.lastElementChild.remove();
}

function onMessage(message) {
  if (message.type === "snapshot") {
    ui.socket.connected();
    apply(message.drivers, true);
    fitFleet();
  } else if (message.type === "delta") {
    apply(message.drivers, false);
  } else if (message.type === "alert") {
    onAlert(message);
  } else if (message.type === "error") {
    console.warn("fleet socket:", message.reason);
  }
}

// --- list ----------------------------------------------------------------------------------

function scheduleRender() {
  if (ui.renderPending) return;
  ui.renderPending = true;
  requestAnimationFrame(() => {
    ui.renderPending = false;
    renderList();
    if (ui.selected !== null) renderDetail();
  });
}

function filters() {
  return {
    query: $("search").value.trim().toLowerCase(),
    state: $("state-filter").value,
    orderStatus: $("order-filter").value,
    late: $("late-filter").checked,
    offRoute: $("offroute-filter").checked,
    offline: $("offline-filter").checked,
  };
}

function matches(d, f) {
  const e = d.entry;
  if (f.state && e.state !== f.state) return false;
  if (f.orderStatus && !e.orders.some((o) => o.status === f.orderStatus)) return false;
  if (f.late && !isLate(e)) return false;
  if (f.offRoute && !d.offRoute) return false;
  if (f.offline && e.online) return false;
  if (f.query) {
    const refs = e.orders.map((o) => o.reference ?? "").join(" ");
    const text = `${e.name} ${e.vehicle ?? ""} #${e.id} ${refs}`.toLowerCase();
    if (!text.includes(f.query)) return false;
  }
  return true;
}

// Late first, then off route, then delivering, idle, offline; then by name.
function rank(d) {
  return (isLate(d.entry) ? 0 : 8) + (d.offRoute ? 0 : 4) + (STATE_ORDER[d.entry.state] ?? 3);
}

const byName = new Intl.Collator(undefined, { numeric: true }).compare;

function rowFor(d) {
  if (!d.row) {
    const button = el("button", { type: "button", className: "driver-row" });
    button.addEventListener("click", () => select(d.entry.id));
    d.row = el("li", { dataset: { driverId: d.entry.id } }, button);
  }
  const e = d.entry;
  const stop = e.current_stop;
  const key = [
    e.name, e.state, e.vehicle, isLate(e), d.offRoute, Boolean(e.position) && !d.inView,
    stop?.reference, stop?.order_id, stop?.eta?.eta, e.position?.at, ui.selected === e.id,
  ].join("|");
  if (d.rowVersion === key) return d.row; // what the row shows has not changed
  d.rowVersion = key;
  const badges = [el("span", { className: `badge ${e.state}` }, e.state)];
  if (isLate(e)) badges.push(el("span", { className: "badge late" }, "late"));
  if (d.offRoute) badges.push(el("span", { className: "badge off-route" }, "off route"));
  if (e.position && !d.inView) {
    badges.push(el("span", { className: "badge stale", title: "Outside the map view: not updated" }, "out of view"));
  }
  const sub = [
    e.vehicle,
    stop ? `${stop.reference ?? `#${stop.order_id}`} ETA ${stop.eta ? clockTime(stop.eta.eta) : "–"}` : null,
    e.position ? `fix ${clockTime(e.position.at)}` : "no position yet",
  ].filter(Boolean);
  const button = d.row.firstElementChild;
  button.setAttribute("aria-pressed", String(ui.selected === e.id));
  button.replaceChildren(
    el("span", { className: "name" }, e.name),
    el("span", { className: "badges" }, ...badges),
    el("span", { className: "sub" }, sub.join(" · ")),
  );
  return d.row;
}

function renderList() {
  const f = filters();
  const all = [...drivers.values()];
  const found = all
    .filter((d) => matches(d, f))
    .map((d) => [rank(d), d])
    .sort(([ra, a], [rb, b]) => ra - rb || byName(a.entry.name, b.entry.name))
    .map(([, d]) => d);
  const shown = found.slice(0, LIST_LIMIT);
  const list = $("driver-list");
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  list.replaceChildren(...shown.map(rowFor));
  if (focused && list.contains(focused)) focused.focus({ preventScroll: true });
  const more = found.length > LIST_LIMIT ? `; the first ${LIST_LIMIT} are listed, refine the search` : "";
  const summary = `${found.length} of ${all.length} drivers${more}`;
  if ($("list-summary").textContent !== summary) $("list-summary").textContent = summary;
}

for (const id of ["search", "state-filter", "order-filter", "late-filter", "offroute-filter", "offline-filter"]) {
  $(id).addEventListener("input", scheduleRender);
}
$("filters").addEventListener("submit", (event) => event.preventDefault());

// --- detail --------------------------------------------------------------------------------

function select(id) {
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
  $("detail").hidden = false;
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

function closeDetail() {
  const previous = drivers.get(ui.selected);
  ui.selected = null;
  if (previous) {
    previous.version += 1;
    refreshIcon(previous);
  }
  $("detail").hidden = true;
  ui.detailLayers?.clearLayers();
  scheduleRender();
}
$("detail-close").addEventListener("click", closeDetail);

function fact(term, value) {
  return [el("dt", {}, term), el("dd", {}, value || "–")];
}

function renderDetail() {
  const d = drivers.get(ui.selected);
  if (!d) return;
  const e = d.entry;
  const p = e.position;
  $("detail-heading").textContent = e.name;
  const stop = e.current_stop;
  const window_ = stop?.eta?.window;
  $("detail-facts").replaceChildren(
    ...fact("Vehicle", e.vehicle),
    ...fact("State", `${e.state}${d.offRoute ? ", off route" : ""}`),
    ...fact("Last fix", p ? dateTime(p.at) : "none yet"),
    ...fact("Speed", p?.speed != null ? `${Math.round(p.speed * 3.6)} km/h` : ""),
    ...fact(
      "Current stop",
      stop
        ? `${stop.reference ?? `#${stop.order_id}`}, ETA ${stop.eta ? clockTime(stop.eta.eta) : "–"}` +
            (window_ ? ` (${clockTime(window_[0])}–${clockTime(window_[1])})` : "")
        : "",
    ),
  );
  const stops = [...e.orders].sort((a, b) => (a.stop_index ?? 0) - (b.stop_index ?? 0));
  $("detail-stops").replaceChildren(
    ...stops.map((o) =>
      el(
        "li",
        { className: o.late ? "problem" : "" },
        `${o.reference ?? `#${o.id}`}: ${statusLabel(o.status)}`,
        o.eta ? `, ETA ${clockTime(o.eta)}` : "",
        o.late ? " (late)" : "",
      ),
    ),
  );
  if (!stops.length) $("detail-stops").replaceChildren(el("li", {}, "No stops on the run."));
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
    ui.detailSignature = signature;
    ui.detailLayers.clearLayers();
    ui.detailLayers.addLayer(d.trailLine);
    loadRun(d.entry.id, d.entry.orders.map((o) => o.id));
  } else if (!ui.detailLayers.hasLayer(d.trailLine)) {
    ui.detailLayers.addLayer(d.trailLine);
  }
}

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${apiKey()}` } });
  if (response.status === 401) signOut("Your key is no longer accepted; sign in again.");
  return response;
}

async function loadRun(driverId, orderIds) {
  if (!orderIds.length) return;
  let orders;
  try {
    const response = await api(`/api/orders?driver_id=${driverId}&limit=500`);
    if (!response.ok) return;
    orders = (await response.json()).orders;
  } catch {
    return;
  }
  if (ui.selected !== driverId) return;
  const L = leaflet();
  const wanted = new Set(orderIds);
  for (const order of orders.filter((o) => wanted.has(o.id))) {
    const line = lineLatLngs(order.route);
    if (line.length) {
      ui.detailLayers.addLayer(L.polyline(line, { className: "route-line", weight: 4, interactive: false }));
    }
    const d = order.destination;
    const label = String((order.stop_index ?? 0) + 1);
    ui.detailLayers.addLayer(
      L.marker([d.lat, d.lon], {
        icon: divIcon("stop-marker", label, 22),
        title: `Stop ${label}: ${order.reference ?? `#${order.id}`}`,
        keyboard: false,
      }),
    );
  }
}

// History from GET /api/drivers/{id}/track when the server has it; otherwise the trail is
// what this page has seen in deltas.
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
      coords.push([lat, lon, properties?.at ?? properties?.time ?? null]);
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

// --- start ---------------------------------------------------------------------------------

const stored = apiKey();
if (stored) startBoard(stored);
else showSignin();
