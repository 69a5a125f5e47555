// Replaying the selected driver's day (docs/pages.md, "Replay a day"): the day's stored
// fixes (GET /api/drivers/{id}/track?format=csv: the lightest of the export formats, read
// whole; a day at one fix a second is ~5 MB), its stops (the driver's orders, GET
// /api/orders?driver_id=) and their events that day (each order's timeline), drawn on the
// map; a timeline slider puts a marker where the courier was at that moment, and
// play/pause runs the day at 1× to 60×.

import { clockTime, el, parseTime, statusLabel } from "../format.js";
import { divIcon, leaflet } from "../map.js";
import { api, showProblem } from "./api.js";
import { $, ui } from "./state.js";

const MAX_TIMELINES = 60; // orders whose events are read (one request each)
const EVENT_STATUSES = new Set(["out_for_delivery", "arrived", "delivered", "failed", "returned", "cancelled"]);

const replay = {
  driverId: null,
  times: [], // ms, ascending
  lats: [],
  lons: [],
  speeds: [],
  layers: null,
  marker: null,
  playing: false,
  lastFrame: 0,
  clockMs: 0,
};

export function initReplay() {
  $("replay-date").value = localDay(new Date());
  $("replay-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (ui.selected !== null) loadDay(ui.selected, $("replay-date").value);
  });
  $("replay-slider").addEventListener("input", () => {
    pause();
    moveTo(Number($("replay-slider").value));
  });
  $("replay-play").addEventListener("click", () => (replay.playing ? pause() : play()));
  $("replay-close").addEventListener("click", closeReplay);
}

function localDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

// The selected driver changed: a replay of another driver's day is put away.
export function replayFollows(driverId) {
  if (replay.driverId !== null && replay.driverId !== driverId) closeReplay();
}

export function closeReplay() {
  pause();
  replay.driverId = null;
  replay.layers?.remove();
  replay.layers = null;
  replay.marker = null;
  $("replay-controls").hidden = true;
  $("replay-status").textContent = "";
  showProblem($("replay-problem"), null);
}

async function loadDay(driverId, day) {
  const start = new Date(`${day}T00:00:00`); // the browser's midnight
  if (Number.isNaN(start.getTime())) return;
  const end = new Date(start);
  end.setDate(end.getDate() + 1);
  end.setMilliseconds(-1);
  closeReplay();
  replay.driverId = driverId;
  $("replay-status").textContent = "Loading the day…";
  const range = `from=${encodeURIComponent(start.toISOString())}&to=${encodeURIComponent(end.toISOString())}`;
  let text;
  try {
    const response = await api(`/api/drivers/${driverId}/track?format=csv&${range}`);
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      showProblem($("replay-problem"), { status: response.status, error: body.error ?? "" });
      $("replay-status").textContent = "";
      return;
    }
    text = await response.text();
  } catch {
    showProblem($("replay-problem"), { status: 0, error: "the server could not be reached" });
    return;
  }
  if (replay.driverId !== driverId) return;
  readCsv(text);
  const events = await loadEvents(driverId, start.getTime(), end.getTime());
  if (replay.driverId !== driverId) return;
  draw(events, start.getTime(), end.getTime());
}

// recorded_at,lat,lon,accuracy_m,speed_mps,heading_deg,altitude_m,battery (docs/api.md)
function readCsv(text) {
  replay.times = [];
  replay.lats = [];
  replay.lons = [];
  replay.speeds = [];
  const lines = text.split("\n");
  for (let i = 1; i < lines.length; i += 1) {
    const cells = lines[i].split(",");
    if (cells.length < 5) continue;
    const at = Date.parse(cells[0]);
    if (Number.isNaN(at)) continue;
    replay.times.push(at);
    replay.lats.push(Number(cells[1]));
    replay.lons.push(Number(cells[2]));
    replay.speeds.push(cells[4] === "" ? null : Number(cells[4]));
  }
}

// The driver's orders (stops), and their timelines' steps in the day.
async function loadEvents(driverId, fromMs, toMs) {
  let orders = [];
  try {
    const response = await api(`/api/orders?driver_id=${driverId}&limit=500`);
    if (response.ok) orders = (await response.json()).orders;
  } catch {
    return { stops: [], events: [] };
  }
  const touched = orders.filter((o) => {
    const updated = parseTime(o.updated_at)?.getTime() ?? 0;
    const created = parseTime(o.created_at)?.getTime() ?? 0;
    return created <= toMs && updated >= fromMs;
  });
  const details = await Promise.all(
    touched.slice(0, MAX_TIMELINES).map(async (o) => {
      try {
        const response = await api(`/api/orders/${o.id}`);
        return response.ok ? await response.json() : null;
      } catch {
        return null;
      }
    }),
  );
  const events = [];
  for (const order of details.filter(Boolean)) {
    for (const step of order.timeline ?? []) {
      const at = parseTime(step.at)?.getTime();
      if (at == null || at < fromMs || at > toMs || !EVENT_STATUSES.has(step.status)) continue;
      events.push({ at, status: step.status, order, reason: step.reason });
    }
  }
  events.sort((a, b) => a.at - b.at);
  return { stops: touched, events };
}

function draw({ stops, events }, dayStart, dayEnd) {
  const L = leaflet();
  const n = replay.times.length;
  $("replay-status").textContent = n
    ? `${n} position${n === 1 ? "" : "s"}, ${clockTime(replay.times[0])}–${clockTime(replay.times[n - 1])}; ${events.length} event${events.length === 1 ? "" : "s"}.`
    : "No positions stored for this day.";
  const first = Math.min(replay.times[0] ?? Infinity, events[0]?.at ?? Infinity);
  const last = Math.max(replay.times[n - 1] ?? -Infinity, events[events.length - 1]?.at ?? -Infinity);
  $("replay-controls").hidden = !Number.isFinite(first);
  if (!Number.isFinite(first)) return;
  const slider = $("replay-slider");
  slider.min = String(Math.max(first, dayStart));
  slider.max = String(Math.min(Math.max(last, first + 1000), dayEnd));
  slider.value = slider.min;
  $("replay-events").replaceChildren(
    ...events.map((e) => {
      const name = e.order.reference ?? `#${e.order.id}`;
      const text = `${clockTime(e.at)} ${name}: ${statusLabel(e.status)}${e.reason ? ` (${e.reason})` : ""}`;
      const button = el("button", { type: "button", className: "link" }, text);
      button.addEventListener("click", () => {
        pause();
        slider.value = String(e.at);
        moveTo(e.at);
      });
      return el("li", { dataset: { status: e.status } }, button);
    }),
  );
  if (!L || !ui.map) return;
  replay.layers = L.layerGroup().addTo(ui.map);
  const line = replay.times.map((_, i) => [replay.lats[i], replay.lons[i]]);
  if (line.length) {
    L.polyline(line, { className: "replay-line", weight: 4, interactive: false }).addTo(replay.layers);
  }
  for (const order of stops) {
    const d = order.destination;
    L.marker([d.lat, d.lon], {
      icon: divIcon(`replay-stop ${order.status}`, "", 14),
      title: `${order.reference ?? `#${order.id}`}: ${statusLabel(order.status)}`,
      keyboard: false,
    }).addTo(replay.layers);
  }
  if (line.length) {
    replay.marker = L.marker(line[0], { icon: divIcon("replay-marker", "", 18), keyboard: false, interactive: false });
    replay.marker.addTo(replay.layers);
    ui.map.fitBounds(L.latLngBounds(line), { padding: [30, 30], maxZoom: 16 });
  }
  moveTo(Number(slider.value));
}

// The last fix at or before `ms` (binary search), and the marker and clock there.
function indexAt(ms) {
  let lo = 0;
  let hi = replay.times.length - 1;
  if (hi < 0 || ms < replay.times[0]) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (replay.times[mid] <= ms) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function moveTo(ms) {
  replay.clockMs = ms;
  const i = indexAt(ms);
  const speed = i >= 0 ? replay.speeds[i] : null;
  $("replay-clock").textContent =
    new Date(ms).toLocaleTimeString() + (speed != null ? ` · ${Math.round(speed * 3.6)} km/h` : "");
  if (!replay.marker || i < 0) return;
  replay.marker.setLatLng([replay.lats[i], replay.lons[i]]);
  const element = replay.marker.getElement();
  if (element) {
    element.dataset.lat = String(replay.lats[i]);
    element.dataset.lon = String(replay.lons[i]);
    element.dataset.at = new Date(replay.times[i]).toISOString();
  }
}

function play() {
  const slider = $("replay-slider");
  if (Number(slider.value) >= Number(slider.max)) slider.value = slider.min;
  replay.playing = true;
  replay.lastFrame = performance.now();
  $("replay-play").textContent = "Pause";
  requestAnimationFrame(frame);
}

function pause() {
  replay.playing = false;
  $("replay-play").textContent = "Play";
}

function frame(now) {
  if (!replay.playing) return;
  const slider = $("replay-slider");
  const speed = Number($("replay-speed").value) || 1;
  const ms = Math.min(Number(slider.max), replay.clockMs + (now - replay.lastFrame) * speed);
  replay.lastFrame = now;
  slider.value = String(ms);
  moveTo(ms);
  if (ms >= Number(slider.max)) pause();
  else requestAnimationFrame(frame);
}
