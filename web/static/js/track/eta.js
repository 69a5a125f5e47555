// The expected arrival: the time (with its date when not today), "in N min · 2.0 km to
// go", the window, how sure it is, and a note when it moves by a minute or more (shown
// for NOTE_MS, saying which way it moved against what the customer was last told).
import { ago, clockTime, distance, duration, parseTime, when } from "../format.js";
import { t } from "../i18n.js";
import { $, OUTCOMES, announce, atTheDoor, outForDelivery, state } from "./state.js";

export const NOTE_MS = 60_000;
const ANY_MINUTE_S = 90; // closer than this, a clock time or a window says nothing more
let noteUntil = 0;

// Why it moved (geo/eta.py's words), in the page's language; other reasons say nothing
// beyond "later" or "earlier".
const REASONS = {
  "off route": "track.reason.off_route",
  "back on route": "track.reason.back_on_route",
  stopped: "track.reason.stopped",
  "slower than usual": "track.reason.slower",
  "faster than usual": "track.reason.faster",
};

function secondsLeft(eta) {
  return ((parseTime(eta.eta)?.getTime() ?? Date.now()) - Date.now()) / 1000;
}

function windowText(eta) {
  const [start, end] = (eta.window || []).map(parseTime);
  if (!start || !end || clockTime(start) === clockTime(end)) return "";
  if (outForDelivery() && secondsLeft(eta) <= ANY_MINUTE_S) return "";
  return t("track.eta.window", { start: when(start), end: when(end, start) });
}

function confidenceText(eta) {
  if (eta.estimate) return t("track.eta.estimate");
  if (eta.confidence !== "low") return "";
  return state.route?.properties?.provisional ? t("track.eta.no_route") : t("track.eta.uncertain");
}

function shown() {
  const status = state.view?.status;
  if (!status || OUTCOMES[status] || atTheDoor()) return false;
  return outForDelivery() || Boolean(state.eta); // before dispatch: the estimate, if any
}

export function renderEta() {
  const section = $("eta-section");
  if (!shown()) {
    section.hidden = true;
    hideNote();
    return;
  }
  section.hidden = false;
  const eta = state.eta;
  $("eta-heading").textContent = t(outForDelivery() ? "track.eta.heading" : "track.eta.expected");
  if (!eta) {
    $("eta-time").textContent = t("track.eta.soon");
    // The courier is there but no ETA yet (a run just changed): not "waiting for them".
    $("eta-in").textContent = t(state.courier ? "track.eta.working_out" : "track.eta.waiting");
    $("eta-window").textContent = "";
    $("eta-confidence").textContent = "";
  } else {
    $("eta-time").textContent = when(eta.eta);
    $("eta-confidence").textContent = confidenceText(eta);
  }
  tick();
}

// What changes every second: "in N min", the window near arrival, "updated N s ago" (not
// live regions: too chatty), and the change note's time running out.
export function tick() {
  if (noteUntil && Date.now() >= noteUntil) hideNote();
  if (!shown()) return;
  const eta = state.eta;
  if (eta) {
    let text = "";
    if (outForDelivery()) {
      const seconds = secondsLeft(eta);
      const soon = seconds > ANY_MINUTE_S ? t("track.eta.in", { duration: duration(seconds) }) : t("track.eta.any_minute");
      text = eta.remaining_m != null ? t("track.eta.to_go", { when: soon, distance: distance(eta.remaining_m) }) : soon;
    }
    $("eta-in").textContent = text;
    $("eta-window").textContent = windowText(eta);
  }
  $("updated").textContent =
    outForDelivery() && state.courier?.at ? t("track.updated", { ago: ago(state.courier.at) }) : "";
}

export function hideNote() {
  noteUntil = 0;
  $("eta-change").hidden = true;
}

// An eta message: the new ETA against the one the customer was last told of.
export function etaChanged(next) {
  const before = state.baseEta;
  state.baseEta = next;
  const was = parseTime(before?.eta);
  const now = parseTime(next?.eta);
  if (!was || !now || before.estimate || next.estimate) return;
  const shift = (now.getTime() - was.getTime()) / 1000;
  if (Math.abs(shift) < 60) return; // the same minute, give or take: nothing to say
  const note = $("eta-change");
  const moved = t(shift > 0 ? "track.eta.later" : "track.eta.earlier", {
    by: duration(Math.abs(shift)),
    was: clockTime(was),
  });
  const why = REASONS[next.reason];
  note.textContent = why ? `${moved} ${t(why)}` : moved;
  note.dataset.direction = shift > 0 ? "later" : "earlier";
  note.hidden = false;
  noteUntil = Date.now() + NOTE_MS;
  announce(`${t("track.eta.now", { time: clockTime(now) })} ${note.textContent}`);
}
