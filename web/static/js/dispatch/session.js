// Signing in with a dispatcher API key, the board's live connection to WS /ws/fleet while
// signed in, and signing out (by the user, or when the server refuses the key).

import { tokenSocket } from "../socket.js";
import { clearAlerts } from "./alerts.js";
import { forgetKey, keepKey } from "./api.js";
import { onMessage } from "./fleet.js";
import { ensureMap } from "./fleetmap.js";
import { $, drivers, ui } from "./state.js";

let forgetPanels = () => {};

// `onSignOut` clears what other modules show (the order panel, the new-order form).
export function initSession({ onSignOut } = {}) {
  if (onSignOut) forgetPanels = onSignOut;
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) return;
    keepKey(key);
    $("api-key").value = "";
    startBoard(key);
  });
  $("signout").addEventListener("click", () => signOut());
}

export function showSignin(error) {
  $("board").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  const message = $("signin-error");
  message.textContent = error || "";
  message.hidden = !error;
  $("api-key").focus();
}

export function signOut(error) {
  forgetKey();
  ui.socket?.stop();
  ui.socket = null;
  for (const d of drivers.values()) d.row?.remove();
  drivers.clear();
  ui.cluster?.clearLayers();
  ui.detailLayers?.clearLayers();
  ui.selected = null;
  ui.fitted = false;
  $("detail").hidden = true;
  clearAlerts();
  forgetPanels();
  setConnection("stopped", "Signed out");
  showSignin(error);
}

function setConnection(state, text) {
  $("connection").dataset.state = state;
  $("connection").textContent = text;
}

export function startBoard(key) {
  $("signin").hidden = true;
  $("board").hidden = false;
  $("signout").hidden = false;
  ensureMap();
  ui.socket = tokenSocket("/ws/fleet", key, {
    onOpen(socket) {
      if (ui.viewport) socket.send({ type: "viewport", bbox: ui.viewport });
      ui.alertsDue = true; // read the open alerts once this connection is accepted
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
