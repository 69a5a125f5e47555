// The customer pages' texts in es (i18n.js). Plain JSON after `export default`:
// tests/web/test_i18n_catalogs.py reads it and checks every catalog has every key.
export default {
  "status.confirmed": "Pedido confirmado",
  "status.processing": "En preparación",
  "status.packed": "Empaquetado",
  "status.shipped": "Enviado",
  "status.out_for_delivery": "En reparto",
  "status.arrived": "El repartidor ha llegado",
  "status.delivered": "Entregado",
  "status.failed": "Intento de entrega fallido",
  "status.cancelled": "Cancelado",
  "status.returned": "Devuelto",
  "duration.under_minute": "menos de un minuto",
  "duration.minutes": "{n} min",
  "duration.hours": "{h} h",
  "duration.hours_minutes": "{h} h {n} min",
  "distance.m": "{n} m",
  "distance.km": "{km} km",
  "ago.seconds": "hace {n} s",
  "ago.minutes": "hace {n} min",
  "ago.hours": "hace {n} h"
};
