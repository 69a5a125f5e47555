// The customer pages' texts in de (i18n.js). Plain JSON after `export default`:
// tests/web/test_i18n_catalogs.py reads it and checks every catalog has every key.
export default {
  "status.confirmed": "Bestellung bestätigt",
  "status.processing": "In Vorbereitung",
  "status.packed": "Verpackt",
  "status.shipped": "Versandt",
  "status.out_for_delivery": "In Zustellung",
  "status.arrived": "Der Zusteller ist da",
  "status.delivered": "Zugestellt",
  "status.failed": "Zustellversuch fehlgeschlagen",
  "status.cancelled": "Storniert",
  "status.returned": "Zurückgesandt",
  "duration.under_minute": "weniger als eine Minute",
  "duration.minutes": "{n} Min.",
  "duration.hours": "{h} Std.",
  "duration.hours_minutes": "{h} Std. {n} Min.",
  "distance.m": "{n} m",
  "distance.km": "{km} km",
  "ago.seconds": "vor {n} s",
  "ago.minutes": "vor {n} Min.",
  "ago.hours": "vor {n} Std."
};
