// A WebSocket that reconnects by itself: exponential backoff with jitter, an immediate
// retry when the browser comes back online, and close codes that mean "stop trying".
// Every (re)connection is a new snapshot on the server's side, so callers simply treat
// each snapshot as the whole truth.

const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;

export function wsUrl(path) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}`;
}

// What a WebSocket subprotocol may hold (RFC 7230 token characters).
const SUBPROTOCOL_CHARS = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;

// A socket that authenticates with `token` (a driver token or an API key). The token goes in
// a subprotocol, `tracker.token.<token>`, beside `tracker` (which the server answers with), not
// in the URL: URLs end up in proxies' and servers' access logs. Only a token no subprotocol
// can carry falls back to `?token=`.
export function tokenSocket(path, token, handlers) {
  if (SUBPROTOCOL_CHARS.test(token)) {
    const protocols = ["tracker", `tracker.token.${token}`];
    return new LiveSocket(wsUrl(path), handlers, defaultPolicy, protocols);
  }
  return new LiveSocket(wsUrl(`${path}?token=${encodeURIComponent(token)}`), handlers);
}

// The default policy: auth and unknown-resource closes are final; a rate limit waits for
// the time the server names ("retry in N s"); everything else backs off and retries.
export function defaultPolicy(code, reason) {
  if (code === 4401 || code === 4403 || code === 4404) return { stop: true };
  if (code === 4429) {
    const match = /retry in (\d+)/.exec(reason || "");
    return { delayMs: match ? Number(match[1]) * 1000 : MAX_DELAY_MS };
  }
  return {};
}

export class LiveSocket {
  // handlers: onOpen(socket), onMessage(object), onState({state, retryInMs, code, reason})
  // states: "connecting", "open", "waiting" (retry pending), "offline", "stopped"
  // protocols: WebSocket subprotocols to offer (see tokenSocket), or none.
  constructor(url, handlers, policy = defaultPolicy, protocols = null) {
    this.url = url;
    this.protocols = protocols;
    this.handlers = handlers;
    this.policy = policy;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.running = false;
    this.onOnline = () => this.running && this.retryNow();
    this.onOffline = () => this.running && this.dropForOffline();
  }

  start() {
    if (this.running) return;
    this.running = true;
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    this.connect();
  }

  stop() {
    this.running = false;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, "bye");
    }
    this.state({ state: "stopped" });
  }

  get open() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  send(message) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  // The first message after connecting proves the connection is good: back off from zero.
  connected() {
    this.attempt = 0;
  }

  state(info) {
    this.handlers.onState?.(info);
  }

  connect() {
    clearTimeout(this.timer);
    if (!this.running) return;
    if (navigator.onLine === false) {
      this.state({ state: "offline" });
      return; // the "online" event brings us back
    }
    this.state({ state: "connecting" });
    const ws = this.protocols ? new WebSocket(this.url, this.protocols) : new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.state({ state: "open" });
      this.handlers.onOpen?.(this);
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // not ours to interpret
      }
      this.handlers.onMessage(message);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.closed(event.code, event.reason);
    };
  }

  closed(code, reason) {
    if (!this.running) return;
    const decision = this.policy(code, reason);
    if (decision.stop) {
      this.running = false;
      this.state({ state: "stopped", code, reason });
      return;
    }
    if (navigator.onLine === false) {
      this.state({ state: "offline", code, reason });
      return;
    }
    const backoff = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
    const delayMs = decision.delayMs ?? backoff * (0.5 + Math.random() / 2);
    this.attempt += 1;
    this.state({ state: "waiting", retryInMs: delayMs, code, reason });
    this.timer = setTimeout(() => this.connect(), delayMs);
  }

  retryNow() {
    if (this.ws) return;
    this.attempt = 0;
    this.connect();
  }

  // The browser says the network is gone: the socket is dead even if it does not know yet.
  dropForOffline() {
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(4000, "offline");
    }
    this.state({ state: "offline" });
  }
}
