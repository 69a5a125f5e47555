// The tracking widget, /embed/{code}, in a shop's iframe: status, the ETA and its window,
// and while the order is out for delivery a small live map. The same socket and public view
// as the tracking page (WS /ws/track/{code}), so it shows nothing that page does not (less:
// no address, no timeline, no instructions). The map library is loaded only when a map is
// shown. Its height goes to the embedding page (embed-loader.js) to size the iframe.
import { Glide } from "./glide.js";
import { clockTime, distance, duration, el, parseTime, statusLabel, when } from "./format.js";
import { t, translatePage, useLocale } from "./i18n.js";
import { loadLeaflet } from "./leaflet-loader.js";
import { createMap, divIcon, leaflet, lineLatLngs } from "./map.js";
import { LiveSocket, wsUrl } from "./socket.js";

const $ = (id) => document.getElementById(id);
const code = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const hint = new URLSearchParams(location.search).get("lang") || undefined; // the shop's
const state = { view: null, courier: null, eta: null, locale: null };
const map = { map: null, route: null, destination: null, courier: null, glide: null };

function outForDelivery() {
  return ["out_for_delivery", "arrived"].includes(state.view?.status);
}

// --- the embedding page learns our height (nothing else) ----------------------------------

let lastHeight = 0;
function postHeight() {
  if (window.parent === window) return;
  const height = Math.ceil(document.documentElement.scrollHeight);
  if (height === lastHeight) return;
  lastHeight = height;
  window.parent.postMessage({ type: "tracker:embed-height", height }, "*");
}
new ResizeObserver(postHeight).observe(document.body);

// --- text --------------------------------------------------------------------------------

function render() {
  const view = state.view;
  document.title = `${statusLabel(view.status)} · ${t("embed.title")}`;
  $("status-text").textContent = statusLabel(view.status);
  const last = (view.timeline || []).at(-1);
  $("since").textContent = last ? t("embed.since", { time: when(last.at) }) : "";
  const window_ = view.window;
  $("promise").textContent = outForDelivery()
    ? ""
    : window_
      ? t("embed.window", { start: when(window_.start), end: clockTime(window_.end) })
      : view.promised_by && !["failed", "cancelled", "returned", "delivered"].includes(view.status)
        ? t("embed.promised", { time: when(view.promised_by) })
        : "";
  renderEta();
}

function renderEta() {
  const section = $("eta-section");
  section.hidden = !outForDelivery();
  if (section.hidden) return;
  const eta = state.eta;
  if (!eta) {
    $("eta-time").textContent = t("embed.soon");
    $("eta-in").textContent = "";
    $("eta-window").textContent = "";
    return;
  }
  $("eta-time").textContent = when(eta.eta);
  const [earliest, latest] = (eta.window || []).map((end) => end && clockTime(end));
  $("eta-window").textContent =
    earliest && latest && earliest !== latest ? t("embed.between", { earliest, latest }) : "";
  tick();
}

function tick() {
  const eta = state.eta;
  if (!outForDelivery() || !eta) return;
  const seconds = ((parseTime(eta.eta)?.getTime() ?? Date.now()) - Date.now()) / 1000;
  const soon = seconds > 30 ? t("embed.in", { duration: duration(seconds) }) : t("embed.any_moment");
  const left = eta.remaining_m != null ? t("embed.to_go", { distance: distance(eta.remaining_m) }) : "";
  $("eta-in").textContent = left ? `${soon} · ${left}` : soon;
}

// --- map (Leaflet loaded on first use) ----------------------------------------------------

function leafletReady() {
  return loadLeaflet().then(
    () => true,
    () => false, // the text still works
  );
}

async function renderMap() {
  const section = $("map-section");
  if (!outForDelivery() || !(await leafletReady()) || !outForDelivery()) {
    section.hidden = true;
    if (map.courier) {
      map.glide.stop();
      map.courier.remove();
      map.courier = null;
    }
    return;
  }
  const L = leaflet();
  section.hidden = false;
  if (!map.map) {
    map.map = createMap($("map"), { note: $("tiles-note"), label: t("embed.map_label") });
    map.route = L.polyline([], { className: "route-line", weight: 4, interactive: false }).addTo(map.map);
    map.destination = L.marker([0, 0], { icon: divIcon("dest-marker", "", 20), keyboard: false });
    map.glide = new Glide((latLng) => {
      map.courier?.setLatLng(latLng);
      const element = map.courier?.getElement();
      if (element) element.dataset.lon = latLng[1].toFixed(7);
    });
  }
  map.map.invalidateSize();
  const d = state.view.destination;
  if (d) map.destination.setLatLng([d.lat, d.lon]).addTo(map.map);
  map.route.setLatLngs(lineLatLngs(state.route));
  placeCourier(true);
}

function placeCourier(refit) {
  if (!map.map) return;
  const L = leaflet();
  if (state.courier) {
    const target = [state.courier.lat, state.courier.lon];
    if (!map.courier) {
      map.courier = L.marker(target, {
        icon: divIcon("courier-marker", "", 22),
        keyboard: false,
        zIndexOffset: 1000,
      }).addTo(map.map);
      map.glide.jump(target);
    } else {
      map.glide.to(target);
    }
  }
  const points = [];
  const d = state.view.destination;
  if (d) points.push([d.lat, d.lon]);
  if (state.courier) points.push([state.courier.lat, state.courier.lon]);
  const inView = state.courier && map.map.getBounds().contains(points.at(-1));
  if (points.length && (refit || !inView)) {
    map.map.fitBounds(L.latLngBounds(points), { padding: [24, 24], maxZoom: 16 });
  }
}

// --- messages ----------------------------------------------------------------------------

async function onSnapshot(view) {
  const locale = view.locale || hint;
  if (state.locale !== (locale ?? "")) {
    state.locale = locale ?? "";
    await useLocale(locale, view.time_zone);
    translatePage();
  }
  state.view = view;
  state.courier = view.courier;
  state.eta = view.eta;
  state.route = view.route;
  $("problem").hidden = true;
  render();
  renderMap();
}

async function refreshView() {
  try {
    const response = await fetch(`/api/track/${encodeURIComponent(code)}`);
    if (response.ok) await onSnapshot(await response.json());
  } catch {
    // the socket's next snapshot brings it
  }
}

function onMessage(message) {
  if (message.type === "snapshot") {
    socket.connected();
    onSnapshot(message);
  } else if (!state.view) {
    return;
  } else if (message.type === "status") {
    state.view.status = message.status;
    state.view.timeline = [...(state.view.timeline || []), message];
    state.courier = message.courier;
    if (!outForDelivery()) state.eta = null;
    render();
    renderMap();
    $("announcer").textContent = statusLabel(message.status);
    refreshView(); // the route and ETA come with the view
  } else if (message.type === "position") {
    state.courier = message.courier;
    if (message.eta) state.eta = message.eta;
    renderEta();
    placeCourier(false);
  } else if (message.type === "eta") {
    const { type, ...eta } = message;
    state.eta = eta;
    renderEta();
  }
}

function onState(info) {
  const connection = $("connection");
  connection.dataset.state = info.state;
  const key = { open: "embed.live", offline: "embed.offline", stopped: "embed.stopped" }[info.state];
  connection.textContent = t(key || "embed.connecting");
  if (info.state === "stopped" && info.code === 4404) {
    $("problem").textContent = t("embed.not_found");
    $("problem").hidden = false;
    $("status-text").textContent = t("embed.unknown");
    $("full-link").hidden = true;
  }
}

$("full-link").href = `/t/${encodeURIComponent(code)}`;
const socket = new LiveSocket(wsUrl(`/ws/track/${encodeURIComponent(code)}`), { onMessage, onState });
useLocale(hint).then(() => {
  translatePage();
  socket.start();
});
setInterval(tick, 1000);
