// The courier socket, WS /ws/driver: queued fixes out (resent after every reconnect until
// acked or rejected), and in: acks, rejections, the run and messages from dispatch.
// Open whenever a courier is signed in: the run and messages come over it, shift or not.

import { tokenSocket } from "../socket.js";
import { $, app, token } from "./state.js";

const BATCH = 500; // fixes per "fixes" message (the server takes up to 1,000)

export const handlers = { run: () => {}, message: () => {}, open: () => {}, signOut: () => {} };

export async function refreshPending() {
  app.pending = await app.fixes.count();
  $("pending").textContent = String(app.pending);
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
      return "Offline: your work is kept and sent later";
    case "waiting":
      return `No connection; retrying in ${Math.ceil(info.retryInMs / 1000)} s`;
    default:
      return "Not connected";
  }
}

export function connect() {
  if (app.socket) return;
  app.socket = tokenSocket("/ws/driver", token(), {
    onOpen: () => {
      app.sent.clear();
      app.socket.connected();
      flush();
      handlers.open();
    },
    onMessage,
    onState(info) {
      if (info.state === "stopped" && info.code === 4401) {
        handlers.signOut("That token was not accepted. Ask your dispatcher for a new one.");
        return;
      }
      setConnection(info.state, connectionText(info));
    },
  });
  app.socket.start();
}

export function disconnect() {
  app.socket?.stop();
  app.socket = null;
  setConnection("stopped", "Not connected");
}

// Send every queued fix not yet sent on this connection, oldest first.
export async function flush() {
  if (!app.socket?.open) return;
  const fixes = (await app.fixes.all()).filter((f) => !app.sent.has(f.seq));
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

export function sendFix(fix) {
  if (app.socket?.open && app.socket.send({ type: "fix", ...fix })) app.sent.add(fix.seq);
}

async function onMessage(message) {
  if (message.type === "ack") {
    await app.fixes.remove(message.seqs);
    app.acked += message.seqs.length;
    $("acked").textContent = String(app.acked);
    await refreshPending();
  } else if (message.type === "rejected") {
    if (message.seq !== null) await app.fixes.remove([message.seq]);
    const node = $("rejected");
    node.textContent = `A position was refused: ${message.reason}`;
    node.hidden = false;
    await refreshPending();
  } else if (message.type === "run" && Array.isArray(message.stops)) {
    handlers.run(message.stops);
  } else if (message.type === "message") {
    handlers.message(message);
  } else if (message.type === "error") {
    console.warn("courier socket:", message.reason);
  }
}
