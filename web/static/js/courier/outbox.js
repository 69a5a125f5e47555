// The courier's persistent outbox (IndexedDB): actions (arrived, delivered, failed) and
// proof uploads, in the order they were tapped. Each entry gets its idempotency key once,
// here, when it is queued: every resend carries the same key, so a resend after a lost
// answer is stored once. Entries tapped together (a proof and its "delivered") share a
// `group`: when the server refuses one, the rest of its group goes with it.
//
// Entry: {n, key, group, kind: "status"|"proof", orderId, label, body, queuedAt,
//         attempts, error, retryAt}; a proof's body holds the photo and signature Blobs.

import { done, OUTBOX, request } from "./idb.js";

export class Outbox {
  constructor(db) {
    this.db = db;
  }

  // Queue entries (one tap) atomically: all of them or none.
  async add(entries) {
    const group = crypto.randomUUID();
    const queuedAt = new Date().toISOString();
    const tx = this.db.transaction(OUTBOX, "readwrite");
    const store = tx.objectStore(OUTBOX);
    const added = entries.map((entry) => ({
      ...entry,
      key: crypto.randomUUID(),
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
