// The customer pages' texts in pt (i18n.js). Plain JSON after `export default`:
// tests/web/test_i18n_catalogs.py reads it and checks every catalog has every key.
export default {
  "status.confirmed": "Encomenda confirmada",
  "status.processing": "Em preparação",
  "status.packed": "Embalada",
  "status.shipped": "Expedida",
  "status.out_for_delivery": "Em distribuição",
  "status.arrived": "O estafeta chegou",
  "status.delivered": "Entregue",
  "status.failed": "Tentativa de entrega falhada",
  "status.cancelled": "Cancelada",
  "status.returned": "Devolvida",
  "duration.under_minute": "menos de um minuto",
  "duration.minutes": "{n} min",
  "duration.hours": "{h} h",
  "duration.hours_minutes": "{h} h {n} min",
  "distance.m": "{n} m",
  "distance.km": "{km} km",
  "ago.seconds": "há {n} s",
  "ago.minutes": "há {n} min",
  "ago.hours": "há {n} h"
};
