// The customer's message preferences, /track/{code}/preferences: which channels they hear
// of this order on (GET/POST /api/track/{code}/preferences; the code is the credential).
// In the order's language (its locale), else the browser's: the pages' catalog (i18n.js).
import { t, translatePage, useLocale } from "./i18n.js";

const code = decodeURIComponent(location.pathname.split("/")[2] || "");
const api = `/api/track/${encodeURIComponent(code)}/preferences`;
const form = document.getElementById("preferences");
const problem = document.getElementById("problem");
const saved = document.getElementById("saved");

async function speak(locale) {
  await useLocale(locale);
  translatePage();
  document.title = t("prefs.title");
  document.getElementById("code").textContent = `${t("prefs.code")}: ${code}`;
}

function say(response) {
  problem.textContent =
    response && response.status === 404
      ? t("prefs.unknown")
      : response && response.status === 429
        ? t("prefs.busy")
        : t("prefs.failed");
  problem.hidden = false;
}

async function show(view) {
  await speak(view.locale);
  for (const channel of ["email", "sms"]) {
    const offered = view.channels.includes(channel);
    document.getElementById(`${channel}-choice`).hidden = !offered;
    document.getElementById(channel).checked = view[channel];
  }
  document.getElementById("no-channels").hidden = view.channels.length > 0;
  form.querySelector("button").hidden = view.channels.length === 0;
  form.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  problem.hidden = true;
  saved.textContent = "";
  const button = form.querySelector("button");
  button.disabled = true;
  const body = {};
  for (const channel of ["email", "sms"]) {
    if (!document.getElementById(`${channel}-choice`).hidden) {
      body[channel] = document.getElementById(channel).checked;
    }
  }
  try {
    const response = await fetch(api, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      say(response);
      return;
    }
    await show(await response.json());
    saved.textContent = t("prefs.saved");
  } catch {
    say(null);
  } finally {
    button.disabled = false;
  }
});

async function load() {
  await speak(undefined);
  document.getElementById("back").href = `/t/${encodeURIComponent(code)}`;
  try {
    const response = await fetch(api);
    if (!response.ok) {
      say(response);
      return;
    }
    await show(await response.json());
  } catch {
    say(null);
  }
}

load();
