// The text of the page: what state the delivery is in (the card at the top), the
// timeline, the address and the promise. Nothing here waits for the map.
import { el, parseTime, statusLabel, when } from "../format.js";
import { t } from "../i18n.js";
import { $, OUTCOMES, atTheDoor, outForDelivery, state, statusName } from "./state.js";

const MAIN_PATH = ["confirmed", "processing", "packed", "shipped", "out_for_delivery", "delivered"];

function renderTimeline() {
  const view = state.view;
  const entries = view.timeline || [];
  const items = entries.map((entry, i) => {
    const current = i === entries.length - 1;
    const outcome = current && OUTCOMES[entry.status] ? ` outcome-${OUTCOMES[entry.status]}` : "";
    return el(
      "li",
      {
        className: (current ? "step current" : "step done") + outcome,
        "aria-current": current ? "step" : null,
      },
      el("span", { className: "step-label" }, statusLabel(entry.status)),
      " ",
      el("time", { dateTime: entry.at }, when(entry.at)),
      entry.note ? el("span", { className: "step-note" }, entry.note) : null,
    );
  });
  const index = MAIN_PATH.indexOf(view.status === "arrived" ? "out_for_delivery" : view.status);
  if (index >= 0) {
    for (const status of MAIN_PATH.slice(index + 1)) {
      items.push(
        el(
          "li",
          { className: "step upcoming" },
          el("span", { className: "step-label" }, statusLabel(status)),
          el("span", { className: "visually-hidden" }, ` ${t("track.timeline.not_yet")}`),
        ),
      );
    }
  }
  $("timeline").replaceChildren(...items);
}

// When the order reached its current status (the newest timeline entry).
function reachedAt() {
  const entries = state.view.timeline || [];
  return entries.length ? entries[entries.length - 1].at : null;
}

function detail(status) {
  if (atTheDoor()) return t("track.arrived");
  if (status === "delivered") return t("track.delivered.detail", { when: when(reachedAt()) });
  if (status === "failed") return t("track.failed.detail");
  if (status === "cancelled") return t("track.cancelled.detail");
  if (status === "returned") return t("track.returned.detail");
  return "";
}

function stopsBefore() {
  const n = state.view.stops_before;
  if (typeof n !== "number" || OUTCOMES[state.view.status] || atTheDoor()) return "";
  if (n > 0) return t("track.stops_before", { n });
  return outForDelivery() ? t("track.next_stop") : "";
}

function promise(view) {
  if (OUTCOMES[view.status]) return ""; // a failed order's old promise no longer holds
  if (view.window) {
    // The end with its date only when that is not the start's day.
    const end = when(view.window.end, parseTime(view.window.start) ?? undefined);
    return t("track.delivery_window", { start: when(view.window.start), end });
  }
  return view.promised_by ? t("track.promised_by", { when: when(view.promised_by) }) : "";
}

function renderProof(view) {
  const figure = $("proof");
  const url = view.status === "delivered" ? view.proof_photo_url : null;
  figure.hidden = !url;
  const image = $("proof-photo");
  if (url && image.getAttribute("src") !== url) image.src = url;
  if (!url) image.removeAttribute("src");
}

export function renderSummary() {
  const view = state.view;
  document.title = t("track.page_title", { status: statusName(view.status) });
  $("reference").textContent = view.reference ? `(${view.reference})` : "";
  $("status-text").textContent = statusLabel(view.status);
  $("summary").dataset.outcome = OUTCOMES[view.status] || (atTheDoor() ? "arrived" : "open");
  const text = detail(view.status);
  $("state-detail").textContent = text;
  $("state-detail").hidden = !text;
  const stops = stopsBefore();
  $("stops-before").textContent = stops;
  $("stops-before").hidden = !stops;
  const d = view.destination || {};
  $("address").textContent = d.address || `${d.lat?.toFixed(5)}, ${d.lon?.toFixed(5)}`;
  $("promise").textContent = promise(view);
  $("expiry").textContent = view.expires_at ? t("track.expires", { when: when(view.expires_at) }) : "";
  renderProof(view);
  renderTimeline();
}
