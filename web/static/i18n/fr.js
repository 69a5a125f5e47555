// The customer pages' texts in fr (i18n.js). Plain JSON after `export default`:
// tests/web/test_i18n_catalogs.py reads it and checks every catalog has every key.
export default {
  "status.confirmed": "Commande confirmée",
  "status.processing": "En préparation",
  "status.packed": "Emballée",
  "status.shipped": "Expédiée",
  "status.out_for_delivery": "En cours de livraison",
  "status.arrived": "Le livreur est arrivé",
  "status.delivered": "Livrée",
  "status.failed": "Échec de la tentative de livraison",
  "status.cancelled": "Annulée",
  "status.returned": "Retournée",
  "duration.under_minute": "moins d’une minute",
  "duration.minutes": "{n} min",
  "duration.hours": "{h} h",
  "duration.hours_minutes": "{h} h {n} min",
  "distance.m": "{n} m",
  "distance.km": "{km} km",
  "ago.seconds": "il y a {n} s",
  "ago.minutes": "il y a {n} min",
  "ago.hours": "il y a {n} h"
};
