// The courier's page, /driver: sign in with the driver token; the run from the courier
// socket, with big buttons for arrived / delivered (with proof) / failed; messages from
// dispatch; the shift streaming positions. Everything the courier does is written to
// IndexedDB first and sent from there (sender.js), so nothing is lost without signal; the
// service worker (/driver-sw.js) keeps the page itself available offline.

import { el } from "../format.js";
import { openFailed, setUpFailed } from "./failed.js";
import { FixQueue } from "./fixqueue.js";
import { openDatabase } from "./idb.js";
import { connect, disconnect, handlers, refreshPending } from "./link.js";
import { forgetMessages, loadMessages, onMessage } from "./messages.js";
import { Outbox } from "./outbox.js";
import { openProof, proofAccepted, setUpProof } from "./proof.js";
import { announceRefusal, renderQueue } from "./queueview.js";
import { actions, renderRun, stopName } from "./run.js";
import { Sender } from "./sender.js";
import { setUpShift, startShift, stopShift } from "./shift.js";
import { $, app, RUN_STORAGE, SHIFT_STORAGE, TOKEN_STORAGE, token } from "./state.js";

// --- the run and the outbox ----------------------------------------------------------------

function setRun(stops, at = new Date().toISOString()) {
  app.stops = stops;
  app.runAt = at;
  localStorage.setItem(RUN_STORAGE, JSON.stringify({ stops, at }));
  renderRun();
}

async function refreshQueue() {
  app.queued = await app.outbox.all();
  renderQueue();
  renderRun();
}

async function queue(entries) {
  await app.outbox.add(entries);
  await refreshQueue();
  app.sender.kick(true);
}

// The server accepted an action: show it before the run message confirms it.
function accepted(entry, body) {
  // What was refused for this stop before is settled now.
  app.refusals = app.refusals.filter((r) => r.orderId !== entry.orderId);
  if (entry.kind === "proof") {
    proofAccepted(entry.orderId);
    return;
  }
  const status = body?.status ?? entry.body.status;
  const stops = app.stops
    .filter((s) => s.order_id !== entry.orderId || status === "arrived")
    .map((s) => (s.order_id === entry.orderId ? { ...s, status } : s));
  setRun(stops, app.runAt);
}

function refused(entry, status, error, dropped) {
  const at = new Date().toISOString();
  for (const gone of dropped.filter((e) => e.key !== entry.key)) {
    const text = `${gone.label}: not sent, because ${entry.label} was not accepted`;
    app.refusals.unshift({ at, text, orderId: gone.orderId });
  }
  const text = `${entry.label}: not accepted (${status}): ${error}`;
  app.refusals.unshift({ at, text, orderId: entry.orderId });
  app.refusals.length = Math.min(app.refusals.length, 20);
  announceRefusal(`${entry.label} was not accepted: ${error}`);
  const stop = app.stops.find((s) => s.order_id === entry.orderId);
  // A refused proof (wrong PIN, bad photo) reopens its dialog, with everything kept;
  // unless the courier is busy in a dialog: then the list and the alert say it.
  if (entry.kind === "proof" && stop && !document.querySelector("dialog[open]")) {
    openProof(stop, error);
  }
}

actions.arrived = (stop) => {
  const label = `Arrived · ${stopName(stop)}`;
  return queue([{ kind: "status", orderId: stop.order_id, label, body: { status: "arrived" } }]);
};
actions.delivered = (stop) => openProof(stop);
actions.failed = (stop) => openFailed(stop);

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
  const waiting = app.pending + app.queued.length;
  if (waiting > 0 && !error) {
    const what = `${app.pending} positions and ${app.queued.length} actions are not sent yet.`;
    if (!confirm(`${what} Sign out and drop them?`)) {
      connect();
      return;
    }
  }
  if (error && app.queued.length > 0) {
    // The token is refused: keep the work; signing in again with a good token sends it.
    localStorage.removeItem(TOKEN_STORAGE);
    showSignin(error);
    return;
  }
  await app.fixes.clear();
  await app.outbox.clear();
  app.refusals = [];
  localStorage.removeItem(TOKEN_STORAGE);
  localStorage.removeItem(RUN_STORAGE);
  forgetMessages();
  setRun([], null);
  await refreshPending();
  await refreshQueue();
  showSignin(error);
}

async function signedIn() {
  $("signin").hidden = true;
  $("app").hidden = false;
  await refreshPending();
  await refreshQueue();
  connect();
  app.sender.kick(true);
  if (localStorage.getItem(SHIFT_STORAGE) === "on") startShift(); // after a reload mid-shift
}

function loadRun() {
  try {
    const saved = JSON.parse(localStorage.getItem(RUN_STORAGE) ?? "null");
    if (saved && Array.isArray(saved.stops)) setRun(saved.stops, saved.at);
  } catch {
    localStorage.removeItem(RUN_STORAGE);
  }
}

// --- start ---------------------------------------------------------------------------------

async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  try {
    await navigator.serviceWorker.register("/driver-sw.js", { scope: "/driver" });
  } catch (error) {
    console.warn("no offline copy of this page:", error.message);
  }
}

async function main() {
  const db = await openDatabase();
  app.fixes = new FixQueue(db);
  app.outbox = new Outbox(db);
  app.sender = new Sender(app.outbox, {
    token,
    changed: () => refreshQueue(),
    done: accepted,
    refused,
  });
  try {
    app.battery = (await navigator.getBattery?.()) ?? null;
  } catch {
    app.battery = null;
  }
  handlers.run = (stops) => setRun(stops);
  handlers.message = onMessage;
  handlers.open = () => app.sender.kick(true); // the network is back: send what waits
  handlers.signOut = signOut;
  setUpShift();
  setUpProof(queue);
  setUpFailed(queue);
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (!value) return;
    localStorage.setItem(TOKEN_STORAGE, value);
    $("token").value = "";
    signedIn();
  });
  $("signout").addEventListener("click", () => signOut());
  window.addEventListener("offline", renderQueue);
  setInterval(() => app.queued.length && renderQueue(), 1000); // retry countdowns
  loadRun();
  loadMessages();
  registerWorker();
  if (token()) await signedIn();
  else showSignin();
}

main().catch((error) => {
  document.getElementById("main").prepend(
    el("p", { className: "problem", role: "alert" }, `This page cannot start: ${error.message}`),
  );
});
