// The view in the URL, so that a view can be shared: ?from=&to=&driver_id=&zone=&bucket=.
// Read leniently (a hand-edited value that cannot be right is dropped; the API judges the
// rest and its refusal is shown), written back with history.pushState.

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const ZONE = /^[0-9bcdefghjkmnpqrstuvwxyz]{5}$/;
const BUCKETS = ["hour", "day", "week"];
export const FILTERS = ["from", "to", "driver_id", "zone"];

export function readView(search = location.search) {
  const params = new URLSearchParams(search);
  const view = { from: "", to: "", driver_id: "", zone: "", bucket: "day" };
  if (DAY.test(params.get("from") ?? "")) view.from = params.get("from");
  if (DAY.test(params.get("to") ?? "")) view.to = params.get("to");
  if (/^[1-9]\d{0,17}$/.test(params.get("driver_id") ?? "")) view.driver_id = params.get("driver_id");
  if (ZONE.test(params.get("zone") ?? "")) view.zone = params.get("zone");
  if (BUCKETS.includes(params.get("bucket"))) view.bucket = params.get("bucket");
  return view;
}

// The query string of `view` for the API (only the filters given) or for the page.
export function filterQuery(view, extra = {}) {
  const params = new URLSearchParams();
  for (const name of FILTERS) if (view[name]) params.set(name, view[name]);
  for (const [name, value] of Object.entries(extra)) params.set(name, value);
  return params.toString();
}

export function pageUrl(view) {
  const query = filterQuery(view, view.bucket !== "day" ? { bucket: view.bucket } : {});
  return query ? `${location.pathname}?${query}` : location.pathname;
}

export function showView(view, { replace = false } = {}) {
  const url = pageUrl(view);
  if (url === `${location.pathname}${location.search}`) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
}
