// What the dispatcher's page knows, shared by its modules: every driver seen, by id, and
// the state of the board (socket, map layers, selection, viewport).

export const TRAIL_MAX = 500;

export const $ = (id) => document.getElementById(id);

export const drivers = new Map(); // id -> {entry, marker, iconClass, trail, offRoute, inView, row, version, rowVersion}
export const ui = {
  socket: null,
  map: null,
  moves: null,
  cluster: null,
  detailLayers: null,
  selected: null,
  detailSignature: "",
  viewport: null,
  fitted: false,
  trackApi: true, // GET /api/drivers/{id}/track answers (until it says 404)
  order: null, // the order open in the order panel: its id
  alertsDue: false, // a new socket connection: read the open alerts at its snapshot
};

export function isLate(entry) {
  return entry.orders.some((o) => o.late);
}

export function driverName(id) {
  return drivers.get(id)?.entry.name ?? `driver #${id}`;
}

export function orderName(driverId, orderId) {
  const order = drivers.get(driverId)?.entry.orders.find((o) => o.id === orderId);
  return order?.reference ? `order ${order.reference}` : `order #${orderId}`;
}
