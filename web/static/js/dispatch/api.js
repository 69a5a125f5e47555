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
