// The tracking-number portal, /track: normalise what the customer typed, check it with
// GET /api/track/{code}, open the tracking page, or say plainly what went wrong.

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
    say("Please enter your tracking number.");
    return;
  }
  if (!ALPHABET.test(code)) {
    say(
      "That does not look like a tracking number: it has 16 letters and digits, " +
        "like 7KQ2-M9XD-3HVA-PR4T. Please check it.",
    );
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
      say(`Too many tries from this network. Please wait ${wait ? `${wait} s` : "a minute"}.`);
    } else {
      say(
        "We could not find that tracking number. Please check it against your confirmation " +
          "message; links stop working some days after delivery.",
      );
    }
  } catch {
    say("We could not reach the tracking service. Check your connection and try again.");
  } finally {
    button.disabled = false;
  }
});

const fromQuery = new URLSearchParams(location.search).get("code");
if (fromQuery) input.value = fromQuery;
