// The courier page's service worker, served as /driver-sw.js (scope /driver) behind two
// lines the server writes: VERSION (a hash of the shell) and SHELL (every URL the page
// loads). It keeps the page's shell so /driver opens without signal; the courier's data
// (run, messages, queued work) is the page's own business (localStorage, IndexedDB).
//
// Shell requests are answered from the cache of this version (it was filled completely
// before this worker took over); a new shell is a new worker, which fills a new cache and
// drops the old one. Nothing else is touched: API calls and the socket go to the network.
/* global VERSION, SHELL */

const CACHE = `courier-shell-${VERSION}`;
const SHELL_PATHS = new Set(SHELL);

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => keys.filter((k) => k.startsWith("courier-shell-") && k !== CACHE))
      .then((old) => Promise.all(old.map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !SHELL_PATHS.has(url.pathname)) return;
  event.respondWith(
    caches
      .open(CACHE)
      .then((cache) => cache.match(url.pathname))
      .then((cached) => cached ?? fetch(request)),
  );
});
