// What the courier page's modules share: the queues, the socket, the shift, and what the
// server last said (run, messages). Plain data; each module owns the fields it writes.

export const TOKEN_STORAGE = "tracker.courier.token";
export const SHIFT_STORAGE = "tracker.courier.shift";
export const RUN_STORAGE = "tracker.courier.run"; // the last run, for opening without signal
export const MESSAGES_STORAGE = "tracker.courier.messages";

export const $ = (id) => document.getElementById(id);

export const app = {
  fixes: null, // FixQueue
  outbox: null, // Outbox
  sender: null, // Sender
  socket: null,
  watch: null,
  wakeLock: null,
  battery: null,
  pending: 0, // fixes not yet acked
  acked: 0,
  sent: new Set(), // seqs sent on the current connection
  onShift: false,
  leaving: false,
  stops: [], // the run, as last received
  runAt: null, // when it was received
  queued: [], // the outbox, as last read
  refusals: [], // the server's refusals this session, newest first
};

export function token() {
  return localStorage.getItem(TOKEN_STORAGE);
}
