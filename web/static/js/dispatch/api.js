// The dispatcher's API key (kept in sessionStorage: this tab only) and REST calls made
// with it. A 401 means the key was revoked: the handler set by main.js signs out.

const KEY_STORAGE = "tracker.dispatch.key";

let keyRejected = () => {};

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function keepKey(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_STORAGE);
}

export function whenKeyRejected(handler) {
  keyRejected = handler;
}

export async function api(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${apiKey()}` } });
  if (response.status === 401) keyRejected("Your key is no longer accepted; sign in again.");
  return response;
}

// A JSON call with the key: `{ok, status, body, error}`, where `error` is the server's own
// words (or the network's failure) for the page to show; nothing is swallowed.
export async function call(method, path, body) {
  const headers = { Authorization: `Bearer ${apiKey()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, body: null, error: "the server could not be reached; check the connection and try again" };
  }
  if (response.status === 401) keyRejected("Your key is no longer accepted; sign in again.");
  let parsed = null;
  try {
    parsed = await response.json();
  } catch {
    // an empty or non-JSON answer: the status says enough
  }
  if (response.ok) return { ok: true, status: response.status, body: parsed, error: "" };
  const error = typeof parsed?.error === "string" ? parsed.error : `HTTP ${response.status}`;
  return { ok: false, status: response.status, body: parsed, error };
}

const REFUSALS = {
  0: "No answer",
  400: "Bad request",
  403: "Not allowed",
  404: "Not found",
  409: "Not possible now",
  413: "Too large",
  422: "Not accepted",
  423: "Locked",
  429: "Too many requests; wait a moment",
  503: "The server is busy; try again shortly",
};

// A failed call in plain words, with its status: "Not accepted (422): …".
export function problemText(result) {
  const what = REFUSALS[result.status] ?? "Failed";
  return `${what} (${result.status || "network"}): ${result.error}`;
}

// Show (or clear, with null) a problem in an alert paragraph.
export function showProblem(element, result) {
  element.textContent = result ? problemText(result) : "";
  element.hidden = !result;
}
