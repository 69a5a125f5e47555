// The map: route ahead, the address, the courier gliding between fixes and pointing where
// it heads. Loaded (with Leaflet) only once a map is to be shown: maploader.js.
import { Glide } from "../glide.js";
import { t } from "../i18n.js";
import { createMap, divIcon, leaflet, lineLatLngs, trackUserMoves } from "../map.js";
import { ahead } from "./route.js";
import { $, state } from "./state.js";

const map = { map: null, moves: null, route: null, destination: null, courier: null, glide: null };

function here() {
  return state.courier ? [state.courier.lat, state.courier.lon] : null;
}

function routeAhead() {
  const trimmed = ahead(lineLatLngs(state.route), here(), state.routeCut);
  state.routeCut = trimmed.cut;
  return trimmed.points;
}

function ensureMap() {
  if (map.map) return;
  const L = leaflet();
  map.map = createMap($("map"), { note: $("tiles-note"), label: t("track.map.label") });
  map.moves = trackUserMoves(map.map);
  map.map.on("resize", () => !map.moves.moved && frame(true)); // a phone turned sideways
  map.route = L.polyline([], { className: "route-line", weight: 5, interactive: false });
  map.route.addTo(map.map);
  map.destination = L.marker([0, 0], {
    icon: divIcon("dest-marker", "", 24),
    title: t("track.map.address"),
    alt: t("track.map.address"),
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
}

function frame(force) {
  if (!map.map || (map.moves.moved && !force)) return;
  const L = leaflet();
  const points = [...routeAhead()];
  const d = state.view.destination;
  if (d) points.push([d.lat, d.lon]);
  if (state.courier) points.push(here());
  if (!points.length) return;
  const courierInView = !state.courier || map.map.getBounds().contains(here());
  if (force || !courierInView) {
    map.map.fitBounds(L.latLngBounds(points), { padding: [30, 30], maxZoom: 17 });
  }
}

// The marker's arrow turned to the courier's heading (hidden when unknown or standing).
function pointHeading() {
  const element = map.courier?.getElement();
  const arrow = element?.querySelector(".heading");
  if (!arrow) return;
  const heading = state.courier?.heading;
  const known = typeof heading === "number" && Number.isFinite(heading) && (state.courier.speed ?? 1) > 0.5;
  arrow.hidden = !known;
  element.dataset.heading = known ? String(Math.round(heading)) : "";
  if (known) arrow.style.transform = `rotate(${heading}deg)`;
}

export function moveCourier() {
  if (!map.map) return;
  if (!state.courier) {
    removeCourier();
    return;
  }
  const target = here();
  if (!map.courier) {
    map.courier = leaflet()
      .marker(target, {
        icon: divIcon("courier-marker", '<span class="heading" hidden></span>', 26),
        title: t("track.map.courier"),
        alt: t("track.map.courier"),
        keyboard: false,
        zIndexOffset: 1000,
      })
      .addTo(map.map);
    map.glide.jump(target);
  } else {
    map.glide.to(target);
  }
  pointHeading();
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

export function show(refit) {
  const firstTime = !map.map;
  ensureMap();
  map.map.invalidateSize();
  map.route.setLatLngs(routeAhead());
  const d = state.view.destination;
  if (d) map.destination.setLatLng([d.lat, d.lon]).addTo(map.map);
  moveCourier();
  frame(firstTime || refit);
}

export function hide() {
  removeCourier();
}
