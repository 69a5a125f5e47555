// The courier's persistent outbox (IndexedDB): actions (arrived, delivered, failed) and
// proof uploads, in the order they were tapped. Each entry gets its idempotency key once,
// here, when it is queued: every resend carries the same key, so a resend after a lost
// answer is stored once. Entries tapped together (a proof and its "delivered") share a
// `group`: when the server refuses one, the rest of its group goes with it.
//
// Entry: {n, key, group, kind: "status"|"proof", orderId, label, body, queuedAt,
//         attempts, error, retryAt}; a proof's body holds the photo and signature Blobs.

import { done, OUTBOX, request } from "./idb.js";

// crypto.randomUUID exists only in secure contexts (HTTPS, localhost); a courier page served
// over plain HTTP gets the same kind of key (a version-4 UUID) from getRandomValues.
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  const cuts = [[0, 8], [8, 12], [12, 16], [16, 20], [20, 32]];
  return cuts.map(([from, to]) => hex.slice(from, to)).join("-");
}

export class Outbox {
  constructor(db) {
    this.db = db;
  }

  // Queue entries (one tap) atomically: all of them or none.
  async add(entries) {
    const group = newKey();
    const queuedAt = new Date().toISOString();
    const tx = this.db.transaction(OUTBOX, "readwrite");
    const store = tx.objectStore(OUTBOX);
    const added = entries.map((entry) => ({
      ...entry,
      key: newKey(),
      group,
      queuedAt,
      attempts: 0,
      error: null,
      retryAt: null,
    }));
    for (const entry of added) store.add(entry);
    await done(tx);
    return added;
  }

  async all() {
    const tx = this.db.transaction(OUTBOX, "readonly");
    return request(tx.objectStore(OUTBOX).getAll()); // oldest first (n is increasing)
  }

  async first() {
    const tx = this.db.transaction(OUTBOX, "readonly");
    const cursor = await request(tx.objectStore(OUTBOX).openCursor());
    return cursor ? cursor.value : null;
  }

  async count() {
    const tx = this.db.transaction(OUTBOX, "readonly");
    return request(tx.objectStore(OUTBOX).count());
  }

  async update(entry) {
    const tx = this.db.transaction(OUTBOX, "readwrite");
    tx.objectStore(OUTBOX).put(entry);
    await done(tx);
  }

  // Remove an entry, or (group=true) every entry of its group; returns what was removed.
  async remove(entry, group = false) {
    const tx = this.db.transaction(OUTBOX, "readwrite");
    const store = tx.objectStore(OUTBOX);
    const gone = group
      ? (await request(store.getAll())).filter((e) => e.group === entry.group)
      : [entry];
    for (const e of gone) store.delete(e.n);
    await done(tx);
    return gone;
  }

  async clear() {
    const tx = this.db.transaction(OUTBOX, "readwrite");
    tx.objectStore(OUTBOX).clear();
    await done(tx);
  }
}
