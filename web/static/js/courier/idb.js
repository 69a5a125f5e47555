// The courier page's IndexedDB database: queued fixes (fixqueue.js), queued actions and
// proofs (outbox.js), and the seq counter. One open() for both, so the schema's version
// is bumped in one place.

const DB_NAME = "tracker-courier";
const VERSION = 2; // 1: fixes and meta; 2: the outbox

export const FIXES = "fixes";
export const META = "meta";
export const OUTBOX = "outbox";

export function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
  });
}

export async function openDatabase() {
  const open = indexedDB.open(DB_NAME, VERSION);
  open.onupgradeneeded = (event) => {
    const db = open.result;
    if (event.oldVersion < 1) {
      db.createObjectStore(FIXES, { keyPath: "seq" });
      db.createObjectStore(META);
    }
    if (event.oldVersion < 2) db.createObjectStore(OUTBOX, { keyPath: "n", autoIncrement: true });
  };
  const db = await request(open);
  // A newer page (another tab, after an update) upgrading the schema must not wait on us.
  db.onversionchange = () => db.close();
  return db;
}
