// Every string the insights page writes from JS, in one table, and the number formats.
// English only today (like the other staff pages): a translation replaces TEXT (and the
// labels in insights.html); no sentence is assembled from pieces elsewhere. Numbers go
// through Intl in the browser's locale.

export const TEXT = {
  loading: "Loading the figures…",
  empty: "Nothing was delivered or attempted from {from} to {to}. Choose another period.",
  error: "The figures could not be loaded: {error}",
  networkError: "the server could not be reached; check the connection and try again",
  forbidden:
    "This key cannot open insights: they rate drivers' work, so only dispatcher and admin " +
    "keys may. Ask an admin for a dispatcher key.",
  rejected: "That key was not accepted. Check it, or ask an admin for a dispatcher key.",
  period: "{from} to {to} · days in {zone}",
  compare: "Change against {from} to {to}, the period of the same length before.",
  exportFailed: "The export failed: {error}",
  none: "—",
  noPrevious: "no earlier figure",
  allDrivers: "All drivers",
  allZones: "All zones",
  noDriver: "(no driver)",
  driverNumber: "driver #{id}",
  noFailures: "No failed attempts.",
  failureCount: "{count} ({share} of failed)",
  sortBy: "Sort by {column}",
  // the bottleneck layers and the heat map (bottlenecks.js)
  bottlenecksMap: "Map of the bottleneck cells in the period",
  bottlenecksLoading: "Loading…",
  bottlenecksError: "The bottleneck layers could not be loaded: {error}",
  bottlenecksNone: "No bottlenecks in this period on the layers chosen: no cells to draw.",
  bottlenecksNoLayer: "Choose a layer to draw.",
  legend_slow: "Driven well below the cell's usual speed. {count}",
  legend_dwell: "Where couriers stood still two minutes or more. {count}",
  legend_late: "Destinations of late deliveries and failed attempts. {count}",
  heatmapError: "The heat map could not be loaded: {error}",
  heatmapNone_late: "No late or failed deliveries in this period.",
  heatmapNone_slow: "No time lost to slow roads in this period.",
  heatmapNone_dwell: "No long stops in this period.",
  // units
  count: "{value}",
  rate: "{value} %",
  points: "{value} pts",
  minutes: "{value} min",
  seconds: "{value} s",
  perHour: "{value} / h",
  change: "{value}",
  // KPI tiles
  kpi_deliveries: "Deliveries",
  kpi_on_time_rate_promise: "On time vs promise",
  kpi_on_time_rate_window: "On time vs window",
  kpi_first_attempt_success_rate: "First-attempt success",
  kpi_lateness_median_s: "Median lateness (negative: early)",
  kpi_lateness_p90_s: "90th percentile lateness",
  kpi_time_at_door_median_s: "Median time at the door",
  kpi_stops_per_driver_hour: "Stops per driver-hour",
  kpi_eta_mae_s: "ETA error at dispatch (mean)",
  kpi_window_coverage: "Arrivals inside the window shown at dispatch",
  // the ETA table
  eta_horizon: "Shown",
  eta_n: "Arrivals",
  eta_mae_s: "Mean error",
  eta_p90_abs_error_s: "90th percentile error",
  eta_window_coverage: "Inside the window",
  horizon_dispatch: "at dispatch",
  horizon_60: "60 min before",
  horizon_30: "30 min before",
  horizon_15: "15 min before",
  horizon_5: "5 min before",
  // failure reasons (the courier's codes, docs/api.md "Courier actions")
  reason_not_home: "Not at home",
  reason_refused: "Refused",
  reason_address_not_found: "Address not found",
  reason_no_access: "No access",
  reason_damaged: "Damaged",
  reason_other: "Other",
  reason_unspecified: "Not given (set by dispatch)",
  // table columns
  col_name: "Driver",
  col_zone: "Zone",
  col_deliveries: "Deliveries",
  col_failed: "Failed",
  col_on_time_rate_promise: "On time (promise)",
  col_on_time_rate_window: "On time (window)",
  col_first_attempt_success_rate: "First attempt",
  col_lateness_median_s: "Median lateness",
  col_time_at_door_median_s: "Median at door",
  col_stops_per_driver_hour: "Stops / driver-hour",
  col_eta_dispatch_mae_s: "ETA error at dispatch",
  // chart series
  series_deliveries: "Deliveries",
  series_failed: "Failed",
  series_on_time_promise: "On time vs promise (%)",
  series_on_time_window: "On time vs window (%)",
  series_eta: "ETA error {horizon} (min)",
  axis_time: "When",
  axis_count: "",
  axis_percent: "%",
  axis_minutes: "min",
};

export function t(key, vars = {}) {
  const text = TEXT[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

// A reason code as words; an unknown code as itself.
export function reasonLabel(code) {
  return TEXT[`reason_${code}`] ?? code;
}

const whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat(undefined, {
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});
const twoDecimals = new Intl.NumberFormat(undefined, {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});
const signed = (format) => (value) => {
  const text = format.format(value);
  return value > 0 && !text.startsWith("+") ? `+${text}` : text;
};

// How each kind of figure is written: a value, and a change between two values.
export const KINDS = {
  count: {
    value: (v) => t("count", { value: whole.format(v) }),
    change: (now, before) =>
      before ? t("rate", { value: signed(oneDecimal)(((now - before) / before) * 100) }) : null,
  },
  rate: {
    value: (v) => t("rate", { value: oneDecimal.format(v * 100) }),
    change: (now, before) => t("points", { value: signed(oneDecimal)((now - before) * 100) }),
  },
  duration: {
    value: (s) =>
      Math.abs(s) < 120
        ? t("seconds", { value: whole.format(s) })
        : t("minutes", { value: oneDecimal.format(s / 60) }),
    change: (now, before) => t("minutes", { value: signed(oneDecimal)((now - before) / 60) }),
  },
  perHour: {
    value: (v) => t("perHour", { value: twoDecimals.format(v) }),
    change: (now, before) => t("perHour", { value: signed(twoDecimals)(now - before) }),
  },
};

// A figure as text; "—" when the API says null (nothing to measure).
export function figure(kind, value) {
  return value === null || value === undefined ? TEXT.none : KINDS[kind].value(value);
}
