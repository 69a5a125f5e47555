// The shift: navigator.geolocation fixes into the persistent queue (IndexedDB) first,
// then to the socket; a screen wake lock keeps the phone from sleeping mid-shift.

import { clockTime } from "../format.js";
import { refreshPending, sendFix } from "./link.js";
import { $, app, SHIFT_STORAGE } from "./state.js";

function finite(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

async function onPosition(position) {
  const c = position.coords;
  const fields = {
    t: Math.round(position.timestamp),
    lat: c.latitude,
    lon: c.longitude,
    acc: finite(c.accuracy),
    speed: finite(c.speed) !== undefined && c.speed >= 0 ? c.speed : undefined,
    heading:
      finite(c.heading) !== undefined && c.heading >= 0 && c.heading < 360 ? c.heading : undefined,
    alt: finite(c.altitude),
    battery: app.battery ? finite(app.battery.level) : undefined,
  };
  for (const key of Object.keys(fields)) if (fields[key] === undefined) delete fields[key];
  const fix = await app.fixes.add(fields);
  $("last-fix").textContent =
    `Last position ${clockTime(fix.t)}, accurate to ${Math.round(fields.acc ?? 0)} m.`;
  $("location-state").textContent = "Sharing your location.";
  await refreshPending();
  sendFix(fix);
}

const LOCATION_ERRORS = {
  1: "Location is blocked for this site: allow it in the browser's settings, then start again.",
  2: "No location available right now; still trying.",
  3: "Location is taking long; still trying.",
};

function onPositionError(error) {
  if (app.leaving) return; // the page is closing: that is not the courier stopping
  $("location-state").textContent = LOCATION_ERRORS[error.code] ?? error.message;
  if (error.code === 1) stopShift();
}

async function keepAwake() {
  if (!("wakeLock" in navigator)) {
    $("wake-state").textContent = "This browser cannot keep the screen on; keep it awake yourself.";
    return;
  }
  try {
    app.wakeLock = await navigator.wakeLock.request("screen");
    $("wake-state").textContent = "The screen stays on during the shift.";
    app.wakeLock.addEventListener("release", () => {
      app.wakeLock = null;
      if (app.onShift) $("wake-state").textContent = "The screen may turn off.";
    });
  } catch (error) {
    $("wake-state").textContent = `The screen may turn off (${error.message}).`;
  }
}

function renderShift() {
  $("shift-state").textContent = app.onShift ? "on" : "off";
  const button = $("shift");
  button.textContent = app.onShift ? "Stop shift" : "Start shift";
  button.classList.toggle("stop", app.onShift);
}

export function startShift() {
  if (!("geolocation" in navigator)) {
    $("location-state").textContent = "This browser has no location service.";
    return;
  }
  app.onShift = true;
  localStorage.setItem(SHIFT_STORAGE, "on");
  renderShift();
  $("location-state").textContent = "Waiting for your location…";
  app.watch = navigator.geolocation.watchPosition(onPosition, onPositionError, {
    enableHighAccuracy: true,
    maximumAge: 0,
    timeout: 60000,
  });
  keepAwake();
}

export async function stopShift() {
  app.onShift = false;
  localStorage.removeItem(SHIFT_STORAGE);
  if (app.watch !== null) navigator.geolocation.clearWatch(app.watch);
  app.watch = null;
  app.wakeLock?.release();
  app.wakeLock = null;
  $("wake-state").textContent = "";
  $("location-state").textContent = "Not sharing your location.";
  renderShift();
}

export function setUpShift() {
  window.addEventListener("pagehide", () => {
    app.leaving = true;
  });
  window.addEventListener("pageshow", () => {
    app.leaving = false;
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && app.onShift && !app.wakeLock) keepAwake();
  });
  $("shift").addEventListener("click", () => (app.onShift ? stopShift() : startShift()));
  renderShift();
}
