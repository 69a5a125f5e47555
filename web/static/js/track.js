// The customer's tracking page, /t/{code}: status timeline, and while out for delivery the live
// ETA and a map with the route, the address and the courier gliding between fixes. All from
// WS /ws/track/{code} (snapshot, then position, status, eta, route); a reconnect replaces it all.
import { Glide } from "./glide.js";
import {
  ago,
  clockTime,
  dateTime,
  distance,
  duration,
  el,
  parseTime,
  statusLabel,
} from "./format.js";
import { createMap, divIcon, leaflet, lineLatLngs, trackUserMoves } from "./map.js";
import { LiveSocket, wsUrl } from "./socket.js";

const MAIN_PATH = ["confirmed", "processing", "packed", "shipped", "out_for_delivery", "delivered"];
const $ = (id) => document.getElementById(id);
const code = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");

const state = { view: null, courier: null, eta: null, route: null, routeCut: 0 };
const map = { map: null, moves: null, route: null, destination: null, courier: null, glide: null };

function announce(text) {
  const region = $("announcer");
  region.textContent = "";
  requestAnimationFrame(() => {
    region.textContent = text;
  });
}

// The courier at the door ("arrived") is still out for delivery: map, ETA, what is to come.
function outForDelivery() {
  return ["out_for_delivery", "arrived"].includes(state.view?.status);
}

// --- text --------------------------------------------------------------------------------

function renderTimeline() {
  const view = state.view;
  const entries = view.timeline || [];
  const items = entries.map((entry, i) => {
    const current = i === entries.length - 1;
    return el(
      "li",
      { className: current ? "step current" : "step done", "aria-current": current ? "step" : null },
      el("span", { className: "step-label" }, statusLabel(entry.status)),
      " ",
      el("time", { dateTime: entry.at }, dateTime(entry.at)),
      entry.note ? el("span", { className: "step-note" }, entry.note) : null,
    );
  });
  const index = MAIN_PATH.indexOf(view.status === "arrived" ? "out_for_delivery" : view.status);
  if (index >= 0) {
    for (const status of MAIN_PATH.slice(index + 1)) {
      items.push(
        el(
          "li",
          { className: "step upcoming" },
          el("span", { className: "step-label" }, statusLabel(status)),
          el("span", { className: "visually-hidden" }, " (not yet)"),
        ),
      );
    }
  }
  $("timeline").replaceChildren(...items);
}

function renderOrder() {
  const view = state.view;
  document.title = `${statusLabel(view.status)} · Track your delivery`;
  $("reference").textContent = view.reference ? `(${view.reference})` : "";
  $("status-text").textContent = statusLabel(view.status);
  const d = view.destination || {};
  $("address").textContent = d.address || `${d.lat?.toFixed(5)}, ${d.lon?.toFixed(5)}`;
  const window_ = view.window;
  $("promise").textContent = window_
    ? `Delivery window: ${dateTime(window_.start)} – ${clockTime(window_.end)}`
    : view.promised_by
      ? `Promised by ${dateTime(view.promised_by)}`
      : "";
  $("expiry").textContent = view.expires_at
    ? `This link works until ${dateTime(view.expires_at)}.`
    : "";
  renderTimeline();
}

function renderEta() {
  const section = $("eta-section");
  if (!outForDelivery()) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  const eta = state.eta;
  if (!eta) {
    $("eta-time").textContent = "Soon";
    $("eta-in").textContent = "Waiting for the courier's position to estimate the arrival time.";
    $("eta-window").textContent = "";
    $("eta-confidence").textContent = "";
  } else {
    $("eta-time").textContent = clockTime(eta.eta);
    const [earliest, latest] = (eta.window || []).map((end) => end && clockTime(end));
    $("eta-window").textContent = // near arrival both ends can read the same minute
      earliest && latest && earliest !== latest ? `Between ${earliest} and ${latest}` : "";
    $("eta-confidence").textContent =
      eta.confidence === "low"
        ? state.route?.properties?.provisional
          ? "An estimate: the exact route is not known yet."
          : "An estimate: the courier's progress is uncertain right now."
        : "";
  }
  tick();
}

// What changes every second: "in N min" and "updated N s ago" (not live regions: too chatty).
function tick() {
  if (!outForDelivery()) return;
  const eta = state.eta;
  if (eta) {
    const seconds = ((parseTime(eta.eta)?.getTime() ?? Date.now()) - Date.now()) / 1000;
    const when = seconds > 30 ? `in ${duration(seconds)}` : "any moment now";
    const left = eta.remaining_m != null ? ` · ${distance(eta.remaining_m)} to go` : "";
    $("eta-in").textContent = `${when}${left}`;
  }
  $("updated").textContent = state.courier?.at
    ? `Courier position updated ${ago(state.courier.at)}`
    : "";
}

function showEtaChange(before, after) {
  const note = $("eta-change");
  const was = parseTime(before?.eta);
  const now = parseTime(after.eta);
  if (!now) return;
  const reason = after.reason ? `: ${after.reason}` : "";
  if (was) {
    const shift = (now.getTime() - was.getTime()) / 1000;
    const direction = shift > 0 ? "Later" : "Earlier";
    note.textContent = `${direction} by ${duration(Math.abs(shift))} (was ${clockTime(before.eta)})${reason}.`;
  } else {
    note.textContent = `New estimate${reason}.`;
  }
  note.hidden = false;
  announce(`Arrival time now ${clockTime(after.eta)}. ${note.textContent}`);
}

// --- map ---------------------------------------------------------------------------------

// The route comes cut by the server (clear of other customers' stops, from the courier on);
// what the courier drives past afterwards is trimmed here: forward only, from the first
// segment the courier is near, so a later pass along the same street never jumps ahead.
const TRIM_NEAR_M = 50;

function nearestOn(a, b, p) {
  // Flat metres around p: fine over one street segment.
  const kx = 111320 * Math.cos((p[0] * Math.PI) / 180);
  const ky = 110574;
  const ax = (a[1] - p[1]) * kx;
  const ay = (a[0] - p[0]) * ky;
  const dx = (b[1] - a[1]) * kx;
  const dy = (b[0] - a[0]) * ky;
  const length2 = dx * dx + dy * dy;
  const t = length2 > 0 ? Math.min(1, Math.max(0, -(ax * dx + ay * dy) / length2)) : 0;
  return { t, m: Math.hypot(ax + t * dx, ay + t * dy) };
}

function routeAhead() {
  const points = lineLatLngs(state.route);
  if (!state.courier || points.length < 2) return points;
  const here = [state.courier.lat, state.courier.lon];
  let best = null;
  for (let i = Math.min(state.routeCut, points.length - 2); i < points.length - 1; i++) {
    const hit = nearestOn(points[i], points[i + 1], here);
    if (best && hit.m >= best.m) break; // past the nearest approach of this pass
    if (hit.m <= TRIM_NEAR_M) best = { i, ...hit };
    else if (best) break;
  }
  if (!best) return points.slice(Math.min(state.routeCut, points.length - 2));
  state.routeCut = best.i;
  const [a, b] = [points[best.i], points[best.i + 1]];
  const cut = [a[0] + (b[0] - a[0]) * best.t, a[1] + (b[1] - a[1]) * best.t];
  return [cut, ...points.slice(best.i + 1)];
}

function setRoute(route) {
  state.route = route;
  state.routeCut = 0;
}

function ensureMap() {
  if (map.map || !leaflet()) return map.map;
  const section = $("map-section");
  section.hidden = false;
  map.map = createMap($("map"), {
    note: $("tiles-note"),
    label: "Map of the courier's route to your address",
  });
  map.moves = trackUserMoves(map.map);
  map.map.on("resize", () => !map.moves.moved && frame(true)); // a phone turned sideways
  const L = leaflet();
  map.route = L.polyline([], { className: "route-line", weight: 5, interactive: false });
  map.route.addTo(map.map);
  map.destination = L.marker([0, 0], {
    icon: divIcon("dest-marker", "", 24),
    title: "Your address",
    alt: "Your address",
    keyboard: false,
  });
  map.glide = new Glide((latLng) => {
    if (!map.courier) return;
    map.courier.setLatLng(latLng);
    const element = map.courier.getElement();
    if (element) {
      element.dataset.lat = latLng[0].toFixed(7);
      element.dataset.lon = latLng[1].toFixed(7);
    }
  });
  return map.map;
}

function frame(force) {
  if (!map.map || (map.moves.moved && !force)) return;
  const L = leaflet();
  const points = [...routeAhead()];
  const d = state.view.destination;
  if (d) points.push([d.lat, d.lon]);
  if (state.courier) points.push([state.courier.lat, state.courier.lon]);
  if (!points.length) return;
  const bounds = L.latLngBounds(points);
  const courierInView =
    !state.courier || map.map.getBounds().contains([state.courier.lat, state.courier.lon]);
  if (force || !courierInView) map.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 17 });
}

function renderMap(refit) {
  const visible = outForDelivery() && leaflet() !== null;
  const section = $("map-section");
  if (!visible) {
    section.hidden = true;
    removeCourier();
    return;
  }
  const firstTime = !map.map;
  ensureMap();
  section.hidden = false;
  map.map.invalidateSize();
  map.route.setLatLngs(routeAhead());
  const d = state.view.destination;
  if (d) map.destination.setLatLng([d.lat, d.lon]).addTo(map.map);
  if (state.courier) placeCourier();
  else removeCourier();
  frame(firstTime || refit);
}

function placeCourier() {
  const L = leaflet();
  const target = [state.courier.lat, state.courier.lon];
  if (!map.courier) {
    map.courier = L.marker(target, {
      icon: divIcon("courier-marker", "", 26),
      title: "Courier",
      alt: "Courier",
      keyboard: false,
      zIndexOffset: 1000,
    }).addTo(map.map);
    map.glide.jump(target);
  } else {
    map.glide.to(target);
  }
  map.route.setLatLngs(routeAhead());
  frame(false);
}

function removeCourier() {
  if (map.courier) {
    map.glide.stop();
    map.courier.remove();
    map.courier = null;
  }
}

// --- messages ----------------------------------------------------------------------------

function onSnapshot(view) {
  const before = state.view?.status;
  state.view = view;
  state.courier = view.courier;
  state.eta = view.eta;
  setRoute(view.route);
  $("problem").hidden = true;
  renderOrder();
  renderEta();
  renderMap(before !== view.status);
  if (before && before !== view.status) announce(`Status: ${statusLabel(view.status)}`);
}

// A status message carries no route or ETA: fetch the current view for those.
async function refreshView() {
  try {
    const response = await fetch(`/api/track/${encodeURIComponent(code)}`);
    if (!response.ok) return;
    const view = await response.json();
    if (view.status !== state.view.status) return; // a newer message already moved on
    setRoute(view.route);
    state.eta = view.eta ?? state.eta;
    state.courier = view.courier ?? state.courier;
    state.view.expires_at = view.expires_at;
    renderOrder();
    renderEta();
    renderMap(true);
  } catch {
    // the socket's next snapshot will bring it
  }
}

function onStatus(message) {
  state.view.status = message.status;
  state.view.timeline = [
    ...(state.view.timeline || []),
    { status: message.status, at: message.at, note: message.note },
  ];
  state.courier = message.courier;
  if (!outForDelivery()) {
    state.eta = null;
    setRoute(null);
  }
  $("eta-change").hidden = true;
  renderOrder();
  renderEta();
  renderMap(true);
  announce(`Status: ${statusLabel(message.status)}${message.note ? `. ${message.note}` : ""}`);
  if (outForDelivery() || message.status === "delivered") refreshView();
}

function onPosition(message) {
  state.courier = message.courier;
  if (message.eta) state.eta = message.eta;
  renderEta();
  if (!outForDelivery()) return;
  if (state.courier && map.map) placeCourier();
  else renderMap(false);
}

function onEta(message) {
  const { type, ...eta } = message;
  const before = state.eta;
  state.eta = eta;
  renderEta();
  showEtaChange(before, eta);
}

function onMessage(message) {
  if (message.type === "snapshot") {
    socket.connected();
    onSnapshot(message);
  } else if (!state.view) {
    return;
  } else if (message.type === "status") onStatus(message);
  else if (message.type === "position") onPosition(message);
  else if (message.type === "eta") onEta(message);
  else if (message.type === "route") (setRoute(message.route), renderMap(false)); // a new leg
}

const CONNECTION_TEXT = {
  open: () => "Live",
  connecting: () => "Connecting…",
  offline: () => "Offline: will reconnect when the network is back",
  waiting: ({ retryInMs, code }) =>
    code === 4429
      ? `Too many lookups from this network; retrying in ${Math.ceil(retryInMs / 1000)} s`
      : `Connection lost; retrying in ${Math.ceil(retryInMs / 1000)} s`,
  stopped: () => "Not connected",
};

function onState(info) {
  const connection = $("connection");
  connection.dataset.state = info.state;
  connection.textContent = CONNECTION_TEXT[info.state](info);
  if (info.state === "stopped" && info.code === 4404) {
    const problem = $("problem");
    problem.replaceChildren(
      "We cannot find this tracking number, or its link has expired. ",
      el("a", { href: "/track" }, "Try another tracking number"),
      ".",
    );
    problem.hidden = false;
    $("status-text").textContent = "unknown";
  }
}

const socket = new LiveSocket(wsUrl(`/ws/track/${encodeURIComponent(code)}`), {
  onMessage,
  onState,
});

// Modules run after the deferred Leaflet script before them: L is there (or never will be).
socket.start();
setInterval(tick, 1000);
