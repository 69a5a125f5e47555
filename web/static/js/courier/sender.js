// Sends the outbox, oldest first, one entry at a time (a proof before its "delivered"; a
// later action never overtakes an earlier one). An entry leaves the outbox only on a
// definitive answer: 2xx (done), or a 4xx that sending again cannot fix (refused: shown to
// the courier with the server's words). No answer, 5xx, 408 and 429 (after its
// Retry-After) are retried with backoff; 401 too (the token may be fixed by signing in).

const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 60000;
const TIMEOUT_MS = { status: 30000, proof: 120000 };
const RETRYABLE = new Set([401, 408, 429]);

export function definitive(status) {
  if (status >= 200 && status < 300) return true;
  return status >= 400 && status < 500 && !RETRYABLE.has(status);
}

function backoffMs(attempts) {
  const ms = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.max(0, attempts - 1));
  return ms * (0.5 + Math.random() / 2);
}

function retryAfterMs(response) {
  const seconds = Number(response.headers.get("Retry-After"));
  if (!Number.isFinite(seconds) || seconds <= 0) return null;
  return Math.min(seconds * 1000, 10 * MAX_DELAY_MS);
}

function request(entry, token) {
  const headers = { Authorization: `Bearer ${token}`, "Idempotency-Key": entry.key };
  const signal = AbortSignal.timeout(TIMEOUT_MS[entry.kind]);
  if (entry.kind === "status") {
    const url = `/api/orders/${entry.orderId}/status`;
    headers["Content-Type"] = "application/json";
    return fetch(url, { method: "POST", headers, body: JSON.stringify(entry.body), signal });
  }
  const form = new FormData();
  const { photo, signature, recipientName, pin } = entry.body;
  if (photo) form.append("photo", photo, photo.name || "photo.jpg");
  if (signature) form.append("signature", signature, "signature.png");
  if (recipientName) form.append("recipient_name", recipientName);
  if (pin) form.append("pin", pin);
  const url = `/api/orders/${entry.orderId}/proof`;
  return fetch(url, { method: "POST", headers, body: form, signal });
}

async function errorText(response) {
  try {
    const body = await response.json();
    if (typeof body.error === "string") return body.error;
  } catch {
    // not JSON: the status says enough
  }
  return `the server answered ${response.status} ${response.statusText}`.trim();
}

export class Sender {
  // hooks: token() -> string, changed() (redraw), done(entry, body), refused(entry, status,
  // error, dropped entries)
  constructor(outbox, hooks) {
    this.outbox = outbox;
    this.hooks = hooks;
    this.busy = false;
    this.again = false;
    this.timer = null;
    this.sending = null; // the entry on the wire, for the view
    window.addEventListener("online", () => this.kick(true));
  }

  // Send what is queued. `now`: ignore pending backoff (the network is back, a new tap).
  kick(now = false) {
    if (now) {
      clearTimeout(this.timer);
      this.timer = null;
      this.skipWait = true;
    }
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.run().finally(() => {
      this.busy = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  async run() {
    for (;;) {
      const entry = await this.outbox.first();
      if (!entry) return;
      const token = this.hooks.token();
      if (!token || navigator.onLine === false) return; // the "online" event kicks again
      const waitMs = entry.retryAt ? Date.parse(entry.retryAt) - Date.now() : 0;
      // A tap or the network coming back cuts a backoff short, never a server's Retry-After.
      if (waitMs > 0 && (!this.skipWait || entry.rateLimited)) {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.kick(), waitMs);
        return;
      }
      this.skipWait = false;
      if (!(await this.send(entry, token))) return;
    }
  }

  // One attempt; true when the entry is settled (the next may go).
  async send(entry, token) {
    this.sending = entry;
    this.hooks.changed();
    let response;
    try {
      response = await request(entry, token);
    } catch (error) {
      const why = error.name === "TimeoutError" ? "timed out" : "no connection";
      return this.retry(entry, `no answer (${why})`);
    } finally {
      this.sending = null;
    }
    if (!definitive(response.status)) {
      const text = await errorText(response);
      const limited = response.status === 429;
      return this.retry(entry, text, limited ? retryAfterMs(response) : null, limited);
    }
    if (response.ok) {
      const body = await response.json().catch(() => null);
      await this.outbox.remove(entry);
      this.hooks.done(entry, body);
    } else {
      const text = await errorText(response);
      const dropped = await this.outbox.remove(entry, true);
      this.hooks.refused(entry, response.status, text, dropped);
    }
    this.hooks.changed();
    return true;
  }

  async retry(entry, error, delayMs = null, rateLimited = false) {
    const attempts = entry.attempts + 1;
    const waitMs = delayMs ?? backoffMs(attempts);
    const retryAt = new Date(Date.now() + waitMs).toISOString();
    await this.outbox.update({ ...entry, attempts, error, retryAt, rateLimited });
    this.hooks.changed();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), waitMs);
    return false;
  }
}
