// The courier's persistent queue of fixes not yet acked (IndexedDB), and the persistent
// `seq` counter: a fix keeps its seq until the server acks or rejects it, across
// reconnects and page reloads, and seqs keep increasing across reloads.

import { done, FIXES, META, request } from "./idb.js";

export class FixQueue {
  constructor(db) {
    this.db = db;
  }

  // Store a fix under the next seq (counter and fix in one transaction) and return it.
  // A fresh counter starts at the clock in ms, so even a wiped store keeps seqs rising.
  async add(fields) {
    const tx = this.db.transaction([FIXES, META], "readwrite");
    const meta = tx.objectStore(META);
    const next = (await request(meta.get("seq"))) ?? Date.now();
    const fix = { seq: next, ...fields };
    meta.put(next + 1, "seq");
    tx.objectStore(FIXES).put(fix);
    await done(tx);
    return fix;
  }

  async all() {
    const tx = this.db.transaction(FIXES, "readonly");
    return request(tx.objectStore(FIXES).getAll()); // in key (seq) order
  }

  async count() {
    const tx = this.db.transaction(FIXES, "readonly");
    return request(tx.objectStore(FIXES).count());
  }

  async remove(seqs) {
    if (!seqs.length) return;
    const tx = this.db.transaction(FIXES, "readwrite");
    const store = tx.objectStore(FIXES);
    for (const seq of seqs) store.delete(seq);
    await done(tx);
  }

  async clear() {
    const tx = this.db.transaction([FIXES], "readwrite");
    tx.objectStore(FIXES).clear();
    await done(tx);
  }
}
