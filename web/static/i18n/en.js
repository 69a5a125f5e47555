// The customer pages' texts in en (i18n.js). Plain JSON after `export default`:
// tests/web/test_i18n_catalogs.py reads it and checks every catalog has every key.
export default {
  "status.confirmed": "Order confirmed",
  "status.processing": "Being prepared",
  "status.packed": "Packed",
  "status.shipped": "Shipped",
  "status.out_for_delivery": "Out for delivery",
  "status.arrived": "Courier has arrived",
  "status.delivered": "Delivered",
  "status.failed": "Delivery attempt failed",
  "status.cancelled": "Cancelled",
  "status.returned": "Returned",
  "duration.under_minute": "less than a minute",
  "duration.minutes": "{n} min",
  "duration.hours": "{h} h",
  "duration.hours_minutes": "{h} h {n} min",
  "distance.m": "{n} m",
  "distance.km": "{km} km",
  "ago.seconds": "{n} s ago",
  "ago.minutes": "{n} min ago",
  "ago.hours": "{n} h ago"
};
