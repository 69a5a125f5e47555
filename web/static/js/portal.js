// The tracking-number portal, /track: normalise what the customer typed, check it with
// GET /api/track/{code}, open the tracking page, or say plainly what went wrong; in the
// browser's language (i18n.js: en, pt, es, fr, de).
import { t, translatePage, useLocale } from "./i18n.js";

const ALPHABET = /^[0-9ABCDEFGHJKMNPQRSTVWXYZ]{16}$/; // Crockford base32: no I, L, O, U
const form = document.getElementById("lookup");
const input = document.getElementById("code");
const message = document.getElementById("lookup-message");

// Case, spaces and dashes do not matter; O, I and L are read as 0, 1 and 1.
export function normalise(text) {
  return text
    .toUpperCase()
    .replace(/[\s\-_.]/g, "")
    .replace(/O/g, "0")
    .replace(/[IL]/g, "1");
}

function grouped(code) {
  return code.match(/.{4}/g).join("-");
}

function say(text) {
  message.textContent = text;
  message.hidden = false;
  input.setAttribute("aria-invalid", "true");
  input.focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  message.hidden = true;
  input.removeAttribute("aria-invalid");
  const code = normalise(input.value);
  if (!code) {
    say(t("portal.empty"));
    return;
  }
  if (!ALPHABET.test(code)) {
    say(t("portal.malformed"));
    return;
  }
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const response = await fetch(`/api/track/${code}`);
    if (response.ok) {
      location.assign(`/t/${grouped(code)}`);
      return;
    }
    if (response.status === 429) {
      const wait = response.headers.get("Retry-After");
      const seconds = Number(wait);
      const pause = seconds > 0 ? t("portal.wait_seconds", { n: seconds }) : t("portal.wait_minute");
      say(t("portal.too_many", { wait: pause }));
    } else {
      say(t("portal.not_found"));
    }
  } catch {
    say(t("portal.unreachable"));
  } finally {
    button.disabled = false;
  }
});

const fromQuery = new URLSearchParams(location.search).get("code");
if (fromQuery) input.value = fromQuery;

// No order yet: the browser's language. The form works in English while the catalog loads.
useLocale(undefined).then(() => translatePage());
