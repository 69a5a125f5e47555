// Messages from dispatch: newest first with their time, kept by id (the socket sends the
// last day's again after every reconnect) and on the phone (shown without signal). A new
// one is announced in a polite live region; the replayed ones are not.

import { clockTime, el, parseTime } from "../format.js";
import { $, MESSAGES_STORAGE } from "./state.js";

const KEEP = 50;
const messages = new Map(); // id -> {id, text, from, at}

function save() {
  localStorage.setItem(MESSAGES_STORAGE, JSON.stringify([...messages.values()]));
}

function render() {
  const newest = [...messages.values()].sort((a, b) => parseTime(b.at) - parseTime(a.at));
  $("messages").replaceChildren(
    ...newest.map((m) =>
      el("li", { className: "message" },
        el("time", { dateTime: m.at }, clockTime(m.at)),
        el("span", { className: "message-text" }, m.text),
      ),
    ),
  );
  $("messages-empty").hidden = newest.length > 0;
}

export function onMessage(message) {
  if (typeof message.id !== "number" || typeof message.text !== "string") return;
  if (messages.has(message.id)) return;
  const { id, text, from, at } = message;
  messages.set(id, { id, text, from, at });
  const ids = [...messages.keys()].sort((a, b) => a - b);
  for (const id of ids.slice(0, Math.max(0, ids.length - KEEP))) messages.delete(id);
  save();
  render();
  $("message-news").textContent = `Message from dispatch at ${clockTime(at)}: ${text}`;
}

export function loadMessages() {
  messages.clear();
  try {
    const saved = JSON.parse(localStorage.getItem(MESSAGES_STORAGE) ?? "[]");
    for (const m of saved) messages.set(m.id, m);
  } catch {
    localStorage.removeItem(MESSAGES_STORAGE);
  }
  render();
}

export function forgetMessages() {
  messages.clear();
  localStorage.removeItem(MESSAGES_STORAGE);
  render();
}
