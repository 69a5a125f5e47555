// What is waiting to be sent (the outbox), each entry's state, and what the server refused.

import { clockTime, el } from "../format.js";
import { $, app } from "./state.js";

function entryState(entry, sending) {
  if (sending) return "Sending…";
  if (navigator.onLine === false) return "Waiting for signal";
  if (entry.retryAt) {
    const seconds = Math.max(0, Math.ceil((Date.parse(entry.retryAt) - Date.now()) / 1000));
    return `Not sent yet (${entry.error}); trying again${seconds ? ` in ${seconds} s` : " now"}`;
  }
  return "Waiting to send";
}

export function renderQueue() {
  const sending = app.sender?.sending;
  $("outbox").replaceChildren(
    ...app.queued.map((entry) =>
      el("li", { className: "queued", dataset: { key: entry.key } },
        el("span", { className: "queued-label" }, entry.label),
        el("span", { className: "queued-state" }, entryState(entry, sending?.key === entry.key)),
        el("span", { className: "muted" }, ` tapped ${clockTime(entry.queuedAt)}`),
      ),
    ),
  );
  $("outbox-count").textContent = String(app.queued.length);
  $("outbox-empty").hidden = app.queued.length > 0;
  $("refusals").replaceChildren(
    ...app.refusals.map((r) =>
      el("li", { className: "problem" }, r.text,
        el("span", { className: "muted" }, ` (${clockTime(r.at)})`)),
    ),
  );
}

export function announceRefusal(text) {
  $("refusal-news").textContent = text;
}
