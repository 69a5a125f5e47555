// The courier's page, /driver: sign in with the driver token, start a shift, and stream
// navigator.geolocation fixes over WS /ws/driver. Every fix goes into a persistent queue
// (IndexedDB) first and leaves it only when the server acks (stored) or rejects it;
// unacked fixes are resent after every reconnect and after a reload, so a courier in a
// tunnel loses nothing. A screen wake lock keeps the phone from sleeping mid-shift.
import { FixQueue } from "./fixqueue.js";
import { clockTime, el } from "./format.js";
import { tokenSocket } from "./socket.js";

const TOKEN_STORAGE = "tracker.courier.token";
const SHIFT_STORAGE = "tracker.courier.shift";
const BATCH = 500; // fixes per "fixes" message (the server takes up to 1,000)
const $ = (id) => document.getElementById(id);

const app = {
  queue: null,
  socket: null,
  watch: null,
  wakeLock: null,
  battery: null,
  pending: 0,
  acked: 0,
  sent: new Set(), // seqs sent on the current connection
  onShift: false,
  leaving: false,
};
window.addEventListener("pagehide", () => {
  app.leaving = true;
});
window.addEventListener("pageshow", () => {
  app.leaving = false;
});

function token() {
  return localStorage.getItem(TOKEN_STORAGE);
}

// --- counts and states ---------------------------------------------------------------------

async function refreshPending() {
  app.pending = await app.queue.count();
  $("pending").textContent = String(app.pending);
  if (!app.onShift && app.pending === 0) disconnect();
}

function setConnection(state, text) {
  const node = $("connection");
  node.dataset.state = state;
  node.textContent = text;
}

function connectionText(info) {
  switch (info.state) {
    case "open":
      return "Connected";
    case "connecting":
      return "Connecting…";
    case "offline":
      return "Offline: positions are kept and sent later";
    case "waiting":
      return `No connection; retrying in ${Math.ceil(info.retryInMs / 1000)} s`;
    default:
      return "Not connected";
  }
}

// --- the socket ----------------------------------------------------------------------------

function connect() {
  if (app.socket) return;
  app.socket = tokenSocket("/ws/driver", token(), {
    onOpen: () => {
      app.sent.clear();
      app.socket.connected();
      flush();
    },
    onMessage,
    onState(info) {
      if (info.state === "stopped" && info.code === 4401) {
        signOut("That token was not accepted. Ask your dispatcher for a new one.");
        return;
      }
      setConnection(info.state, connectionText(info));
    },
  });
  app.socket.start();
}

function disconnect() {
  app.socket?.stop();
  app.socket = null;
  setConnection("stopped", "Not connected");
}

// Send every queued fix not yet sent on this connection, oldest first.
async function flush() {
  if (!app.socket?.open) return;
  const fixes = (await app.queue.all()).filter((f) => !app.sent.has(f.seq));
  for (let i = 0; i < fixes.length; i += BATCH) {
    const batch = fixes.slice(i, i + BATCH);
    if (!app.socket?.open) return;
    const ok =
      batch.length === 1
        ? app.socket.send({ type: "fix", ...batch[0] })
        : app.socket.send({ type: "fixes", fixes: batch });
    if (!ok) return;
    for (const f of batch) app.sent.add(f.seq);
  }
}

async function onMessage(message) {
  if (message.type === "ack") {
    await app.queue.remove(message.seqs);
    app.acked += message.seqs.length;
    $("acked").textContent = String(app.acked);
    await refreshPending();
  } else if (message.type === "rejected") {
    if (message.seq !== null) await app.queue.remove([message.seq]);
    const node = $("rejected");
    node.textContent = `A position was refused: ${message.reason}`;
    node.hidden = false;
    await refreshPending();
  } else if (message.type === "error") {
    console.warn("courier socket:", message.reason);
  }
}

// --- positions -----------------------------------------------------------------------------

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
    heading: finite(c.heading) !== undefined && c.heading >= 0 && c.heading < 360 ? c.heading : undefined,
    alt: finite(c.altitude),
    battery: app.battery ? finite(app.battery.level) : undefined,
  };
  for (const key of Object.keys(fields)) if (fields[key] === undefined) delete fields[key];
  const fix = await app.queue.add(fields);
  $("last-fix").textContent =
    `Last position ${clockTime(fix.t)}, accurate to ${Math.round(fields.acc ?? 0)} m.`;
  $("location-state").textContent = "Sharing your location.";
  await refreshPending();
  if (app.socket?.open && app.socket.send({ type: "fix", ...fix })) app.sent.add(fix.seq);
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

// --- wake lock -----------------------------------------------------------------------------

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

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && app.onShift && !app.wakeLock) keepAwake();
});

// --- shift ---------------------------------------------------------------------------------

function renderShift() {
  $("shift-state").textContent = app.onShift ? "on" : "off";
  const button = $("shift");
  button.textContent = app.onShift ? "Stop shift" : "Start shift";
  button.classList.toggle("stop", app.onShift);
}

function startShift() {
  if (!("geolocation" in navigator)) {
    $("location-state").textContent = "This browser has no location service.";
    return;
  }
  app.onShift = true;
  localStorage.setItem(SHIFT_STORAGE, "on");
  renderShift();
  $("location-state").textContent = "Waiting for your location…";
  connect();
  app.watch = navigator.geolocation.watchPosition(onPosition, onPositionError, {
    enableHighAccuracy: true,
    maximumAge: 0,
    timeout: 60000,
  });
  keepAwake();
}

async function stopShift() {
  app.onShift = false;
  localStorage.removeItem(SHIFT_STORAGE);
  if (app.watch !== null) navigator.geolocation.clearWatch(app.watch);
  app.watch = null;
  app.wakeLock?.release();
  app.wakeLock = null;
  $("wake-state").textContent = "";
  $("location-state").textContent = "Not sharing your location.";
  renderShift();
  await refreshPending(); // disconnects once everything queued is acked
}

$("shift").addEventListener("click", () => (app.onShift ? stopShift() : startShift()));

// --- sign in -------------------------------------------------------------------------------

function showSignin(error) {
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = error ?? "";
  $("signin-error").hidden = !error;
}

async function signOut(error) {
  if (app.onShift) await stopShift();
  disconnect();
  if (app.pending > 0 && !error) {
    const keep = !confirm(`${app.pending} positions are not sent yet. Sign out and drop them?`);
    if (keep) {
      connect();
      return;
    }
  }
  await app.queue.clear();
  await refreshPending();
  localStorage.removeItem(TOKEN_STORAGE);
  showSignin(error);
}

async function signedIn() {
  $("signin").hidden = true;
  $("app").hidden = false;
  renderShift();
  await refreshPending();
  if (localStorage.getItem(SHIFT_STORAGE) === "on") startShift(); // after a reload mid-shift
  else if (app.pending > 0) connect(); // send what a previous page left
}

$("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("token").value.trim();
  if (!value) return;
  localStorage.setItem(TOKEN_STORAGE, value);
  $("token").value = "";
  signedIn();
});
$("signout").addEventListener("click", () => signOut());

// --- start ---------------------------------------------------------------------------------

async function main() {
  app.queue = await FixQueue.open();
  try {
    app.battery = (await navigator.getBattery?.()) ?? null;
  } catch {
    app.battery = null;
  }
  if (token()) await signedIn();
  else showSignin();
}

main().catch((error) => {
  document.getElementById("main").prepend(
    el("p", { className: "problem", role: "alert" }, `This page cannot start: ${error.message}`),
  );
});
