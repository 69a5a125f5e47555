// Leaflet, its stylesheet and the map code load only when a map is shown (out for
// delivery): the status and the ETA never wait for them, and states without a map load
// no map code at all.
import { $, outForDelivery } from "./state.js";

let loading = null;
let view = null;

async function load() {
  const { loadLeaflet } = await import("../leaflet-loader.js");
  await loadLeaflet();
  return import("./mapview.js");
}

export async function renderMap(refit) {
  const section = $("map-section");
  if (!outForDelivery()) {
    section.hidden = true;
    view?.hide();
    return;
  }
  section.hidden = false; // its room is kept while the library loads
  if (!view) {
    loading ||= load();
    try {
      view = await loading;
    } catch {
      loading = null; // the next state change tries again; the text works without it
      section.hidden = true;
      return;
    }
  }
  if (outForDelivery()) view.show(refit);
}

// A new position: the marker glides there (or the map is drawn first).
export function courierMoved() {
  if (view && outForDelivery()) view.moveCourier();
  else renderMap(false);
}
