// "Failed": the reason (the server's codes) and a note, required for "other"; queued as
// the "failed" action.

import { $ } from "./state.js";
import { stopName } from "./run.js";

export const REASONS = {
  not_home: "Not home",
  refused: "Refused",
  address_not_found: "Address not found",
  no_access: "No access",
  damaged: "Damaged",
  other: "Other (say what in the note)",
};

let current = null;
let queue = async () => {};

export function openFailed(stop) {
  if (current?.order_id !== stop.order_id) $("failed-form").reset();
  current = stop;
  $("failed-stop").textContent = stopName(stop);
  $("failed-error").hidden = true;
  if (!$("failed-dialog").open) $("failed-dialog").showModal();
}

async function submit(event) {
  event.preventDefault();
  const reason = $("failed-reason").value;
  const note = $("failed-note").value.trim();
  if (reason === "other" && !note) {
    $("failed-error").textContent = "With “Other”, say what happened in the note.";
    $("failed-error").hidden = false;
    $("failed-note").focus();
    return;
  }
  const label = `Failed (${REASONS[reason].split(" (")[0].toLowerCase()}) · ${stopName(current)}`;
  const body = { status: "failed", reason, ...(note ? { note } : {}) };
  await queue([{ kind: "status", orderId: current.order_id, label, body }]);
  $("failed-form").reset();
  $("failed-dialog").close();
}

export function setUpFailed(queueEntries) {
  queue = queueEntries;
  const select = $("failed-reason");
  for (const [value, text] of Object.entries(REASONS)) {
    select.append(new Option(text, value));
  }
  $("failed-form").addEventListener("submit", submit);
  $("failed-cancel").addEventListener("click", () => $("failed-dialog").close());
}
