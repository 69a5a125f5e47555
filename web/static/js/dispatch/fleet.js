// The live fleet from WS /ws/fleet: a snapshot, then a delta per second (limited to the
// map's view), alerts at once. Markers are updated in place; changes to drivers already on
// the page (offline, back online, an order late) are added to the alerts feed.

import { leaflet } from "../map.js";
import { addAlert, loadOpenAlerts, onAck, showAlert } from "./alerts.js";
import { closeDetail, select } from "./detail.js";
import { fitFleet, iconFor, inBbox, refreshIcon } from "./fleetmap.js";
import { scheduleRender } from "./render.js";
import { drivers, orderName, TRAIL_MAX, ui } from "./state.js";

const BULK_MOVE = 200; // more moved markers than this: remove + re-add in bulk

export function onMessage(message) {
  if (message.type === "snapshot") {
    ui.socket.connected();
    if (ui.alertsDue) {
      ui.alertsDue = false; // each (re)connect: what was raised or acknowledged meanwhile
      loadOpenAlerts();
    }
    apply(message.drivers, true);
    fitFleet();
  } else if (message.type === "delta") {
    apply(message.drivers, false);
  } else if (message.type === "alert") {
    onAlert(message);
  } else if (message.type === "alert_ack") {
    onAck(message);
  } else if (message.type === "error") {
    console.warn("fleet socket:", message.reason);
  }
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

// "Off route" is known from these alerts only.
function onAlert(alert) {
  const d = drivers.get(alert.driver_id);
  if (d && (alert.kind === "off_route" || alert.kind === "back_on_route")) {
    d.offRoute = alert.kind === "off_route";
    d.version += 1;
    scheduleRender();
  }
  if (d && alert.kind === "rerouted" && ui.selected === alert.driver_id) {
    ui.detailSignature = "rerouted"; // the open detail fetches its run's lines again
    scheduleRender();
  }
  showAlert(alert);
}
