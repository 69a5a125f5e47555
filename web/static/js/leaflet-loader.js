// Leaflet and its stylesheet (and protomaps-leaflet when the tiles are vector tiles),
// loaded on first use by pages that show a map only in some states (the tracking page, the
// widget): from the versioned, immutable vendor URLs that /static/config.js names, or the
// plain ones. Resolves once they are there; rejects when Leaflet cannot load (the page's
// text still works); without protomaps-leaflet the map says its background is missing.
import { config } from "/static/config.js";

let loading = null;

function attach(element) {
  return new Promise((resolve, reject) => {
    element.addEventListener("load", resolve, { once: true });
    const what = element.src || element.href;
    element.addEventListener("error", () => reject(new Error(`could not load ${what}`)), { once: true });
    document.head.append(element);
  });
}

function script(src) {
  return attach(Object.assign(document.createElement("script"), { src }));
}

async function loadAll() {
  const base = config.vendor?.leaflet || "/static/vendor/leaflet";
  const css = Object.assign(document.createElement("link"), { rel: "stylesheet", href: `${base}/leaflet.css` });
  await Promise.all([attach(css), window.L ? null : script(`${base}/leaflet.js`)]);
  if (config.tileKind === "vector" && !window.protomapsL) {
    const vector = config.vendor?.["protomaps-leaflet"] || "/static/vendor/protomaps-leaflet";
    await script(`${vector}/protomaps-leaflet.js`).catch(() => null); // map.js says so
  }
}

export function loadLeaflet() {
  if (window.L && (config.tileKind !== "vector" || window.protomapsL)) return Promise.resolve();
  loading ||= loadAll().catch((error) => {
    loading = null; // a later try may succeed (the network came back)
    throw error;
  });
  return loading;
}
