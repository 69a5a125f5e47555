// Leaflet and its stylesheet, loaded on first use by pages that show a map only in some
// states (the tracking page, the widget): from the versioned, immutable vendor URL that
// /static/config.js names, or the plain one. Resolves once Leaflet is there; rejects when
// it cannot load (the page's text still works).
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

export function loadLeaflet() {
  if (window.L) return Promise.resolve();
  const base = config.vendor?.leaflet || "/static/vendor/leaflet";
  loading ||= Promise.all([
    attach(Object.assign(document.createElement("link"), { rel: "stylesheet", href: `${base}/leaflet.css` })),
    attach(Object.assign(document.createElement("script"), { src: `${base}/leaflet.js` })),
  ]).catch((error) => {
    loading = null; // a later try may succeed (the network came back)
    throw error;
  });
  return loading;
}
