// The customer's tracking page, /t/{code}. The text (status, ETA, stops before yours)
// comes from the socket's snapshot and never waits for the map, which loads only when
// shown (maploader.js). Messages are handled one at a time, in order: a language change
// (the order's locale) loads its catalog before anything is drawn.
import { t, translatePage, useLocale } from "../i18n.js";
import { LiveSocket, wsUrl } from "../socket.js";
import { etaChanged, hideNote, renderEta, tick } from "./eta.js";
import { courierMoved, renderMap } from "./maploader.js";
import { renderSelfService, setupSelfService } from "./selfservice.js";
import { $, announce, code, outForDelivery, state, statusName } from "./state.js";
import { renderSummary } from "./summary.js";

const language = { locale: undefined, zone: undefined };

async function chooseLanguage(orderLocale, zone) {
  if (language.locale === orderLocale && language.zone === zone) return;
  Object.assign(language, { locale: orderLocale, zone });
  await useLocale(orderLocale, zone);
  translatePage();
}

function setRoute(route) {
  state.route = route;
  state.routeCut = 0;
}

function render(refit) {
  renderSummary();
  renderEta();
  renderSelfService();
  renderMap(refit);
}

async function onSnapshot(view) {
  const before = state.view?.status;
  await chooseLanguage(view.locale ?? null, view.time_zone ?? undefined);
  state.view = view;
  state.courier = view.courier;
  state.eta = view.eta;
  state.baseEta = view.eta;
  setRoute(view.route);
  $("problem").hidden = true;
  render(before !== view.status);
  if (before && before !== view.status) announce(t("track.status_now", { status: statusName(view.status) }));
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
    state.baseEta = state.eta;
    state.courier = view.courier ?? state.courier;
    Object.assign(state.view, {
      expires_at: view.expires_at,
      proof_photo_url: view.proof_photo_url,
      stops_before: view.stops_before,
      arrived_at: view.arrived_at,
    });
    render(true);
  } catch {
    // the socket's next snapshot will bring it
  }
}

function onStatus(message) {
  state.view.status = message.status;
  state.view.timeline = [...(state.view.timeline || []), { status: message.status, at: message.at, note: message.note }];
  state.courier = message.courier;
  if (!outForDelivery()) {
    state.eta = null;
    state.view.arrived_at = null;
    setRoute(null);
  }
  hideNote();
  render(true);
  announce(`${t("track.status_now", { status: statusName(message.status) })}${message.note ? `. ${message.note}` : ""}`);
  refreshView(); // the route, ETA, proof photo, stops before yours of the new state
}

function onPosition(message) {
  state.courier = message.courier;
  if (message.eta) state.eta = message.eta;
  const stopsBefore = message.stops_before ?? null;
  if (stopsBefore !== (state.view.stops_before ?? null)) {
    state.view.stops_before = stopsBefore;
    renderSummary(); // not on every fix: the timeline and card stay as they are
  }
  renderEta();
  if (outForDelivery()) courierMoved();
}

function onEta(message) {
  const { type, stops_before: stopsBefore, ...eta } = message;
  if (stopsBefore !== undefined) state.view.stops_before = stopsBefore;
  state.eta = eta.eta ? eta : null;
  renderSummary();
  renderEta();
  if (state.eta) etaChanged(state.eta);
}

function onArrived(message) {
  if (!outForDelivery()) return;
  state.view.arrived_at = message.at;
  renderSummary();
  renderEta();
  announce(t("track.arrived"));
}

let queue = Promise.resolve();

function onMessage(message) {
  queue = queue.then(() => handle(message)).catch((error) => console.error(error));
}

async function handle(message) {
  if (message.type === "snapshot") {
    socket.connected();
    await onSnapshot(message);
  } else if (!state.view) {
    return;
  } else if (message.type === "status") onStatus(message);
  else if (message.type === "position") onPosition(message);
  else if (message.type === "eta") onEta(message);
  else if (message.type === "arrived") onArrived(message);
  else if (message.type === "route") onRoute(message);
}

// The courier was re-routed (off the planned line): draw the new leg from where it is.
function onRoute(message) {
  setRoute(message.route);
  renderMap(false);
}

const CONNECTION_TEXT = {
  open: () => t("track.connection.live"),
  connecting: () => t("track.connection.connecting"),
  offline: () => t("track.connection.offline"),
  waiting: ({ retryInMs, code: closeCode }) =>
    t(closeCode === 4429 ? "track.connection.throttled" : "track.connection.retrying", {
      s: Math.ceil(retryInMs / 1000),
    }),
  stopped: () => t("track.connection.stopped"),
};

let lastConnection = null;

function showConnection() {
  if (!lastConnection) return;
  const connection = $("connection");
  connection.dataset.state = lastConnection.state;
  connection.textContent = CONNECTION_TEXT[lastConnection.state](lastConnection);
}

function onState(info) {
  lastConnection = info;
  showConnection();
  if (info.state === "stopped" && info.code === 4404) {
    const problem = $("problem");
    const link = Object.assign(document.createElement("a"), { href: "/track", textContent: t("track.try_another") });
    problem.replaceChildren(`${t("track.not_found")} `, link);
    problem.hidden = false;
    $("status-text").textContent = t("track.unknown");
  }
}

const socket = new LiveSocket(wsUrl(`/ws/track/${encodeURIComponent(code)}`), { onMessage, onState });

// The browser's language first (the order's, from the snapshot, may change it), so the
// static text is right before anything arrives; then the socket.
setupSelfService();
queue = chooseLanguage(null, undefined).then(showConnection, () => undefined);
socket.start();
setInterval(tick, 1000);
