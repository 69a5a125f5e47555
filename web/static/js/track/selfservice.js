// What the customer can do from the link (POST /api/track/{code}/…): leave delivery
// instructions until the order is out for delivery, report a problem, rate a delivery,
// ask for a new attempt after a failed one. The server decides (409 names the state);
// the page only offers what the current state allows.
import { t } from "../i18n.js";
import { $, code, state, statusName } from "./state.js";

const INSTRUCTIONS_UNTIL = ["confirmed", "processing", "packed", "shipped"];

function say(result, text, kind) {
  result.textContent = text;
  result.dataset.kind = kind;
}

function refusal(response, answer) {
  if (response.status === 409 && answer.status) {
    return t("track.form.wrong_state", { status: statusName(answer.status) });
  }
  if (response.status === 422 || response.status === 413) return t("track.form.invalid");
  if (response.status === 429) return t("track.form.too_many");
  if (response.status === 404) return t("track.not_found");
  return t("track.form.failed");
}

// POST a body; the answer's JSON, or null after saying what went wrong in `result`.
async function send(path, body, result, button) {
  button.disabled = true;
  say(result, t("track.form.sending"), "pending");
  try {
    const response = await fetch(`/api/track/${encodeURIComponent(code)}/${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    let answer = {};
    try {
      answer = await response.json();
    } catch {
      answer = {};
    }
    if (response.ok) return answer;
    say(result, refusal(response, answer), "error");
  } catch {
    say(result, t("track.form.offline"), "error");
  } finally {
    button.disabled = false;
  }
  return null;
}

function optional(text) {
  const trimmed = text.trim();
  return trimmed ? trimmed : undefined;
}

function bind(formId, path, body, done) {
  const form = $(formId);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const result = form.querySelector(".form-result");
    const answer = await send(path, body(form), result, form.querySelector("button[type=submit]"));
    if (answer) say(result, done(answer, form), "ok");
  });
}

export function setupSelfService() {
  bind(
    "instructions-form",
    "instructions",
    (form) => ({ text: form.elements.text.value.trim() }),
    (answer) => {
      state.view.delivery_instructions = answer.delivery_instructions;
      return answer.delivery_instructions ? t("track.instructions.saved") : t("track.instructions.removed");
    },
  );
  bind(
    "issue-form",
    "issues",
    (form) => ({ reason: form.elements.reason.value, text: optional(form.elements.text.value) }),
    (answer, form) => {
      form.reset();
      return t("track.issue.sent");
    },
  );
  bind(
    "rating-form",
    "rating",
    (form) => ({ score: Number(form.elements.score.value), comment: optional(form.elements.comment.value) }),
    () => t("track.rating.thanks"),
  );
  bind(
    "reattempt-form",
    "reattempt",
    (form) => ({ note: optional(form.elements.note.value) }),
    () => t("track.reattempt.sent"),
  );
  // "Other" needs a few words to be of use.
  const issue = $("issue-form");
  issue.elements.reason.addEventListener("change", () => {
    issue.elements.text.required = issue.elements.reason.value === "other";
  });
}

// Which forms the current state allows; the instructions as saved.
export function renderSelfService() {
  const status = state.view.status;
  const editable = INSTRUCTIONS_UNTIL.includes(status);
  const form = $("instructions-form");
  form.hidden = !editable;
  const saved = state.view.delivery_instructions || "";
  if (editable && document.activeElement !== form.elements.text) form.elements.text.value = saved;
  $("instructions-shown").hidden = editable || !saved || !["out_for_delivery", "arrived"].includes(status);
  $("instructions-text").textContent = saved; // the customer's words, as text
  $("rating-form").hidden = status !== "delivered";
  $("reattempt-form").hidden = status !== "failed";
}
