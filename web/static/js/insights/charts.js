// The series as charts (uPlot, vendored from npm: /static/vendor/uplot/): deliveries and
// failed attempts per bucket, the on-time rates, the ETA's mean absolute error by horizon.
// Redrawn for each answer; resized with their box.

import uPlot from "/static/vendor/uplot/uPlot.esm.js";
import { $ } from "./dom.js";
import { columns } from "./buckets.js";
import { HORIZONS } from "./eta.js";
import { TEXT, t } from "./text.js";

const HEIGHT = 220;
const STEP_S = { hour: 3600, day: 86400, week: 7 * 86400 };
export const COLOURS = {
  deliveries: "#0b5cad",
  failed: "#b3261e",
  promise: "#1e7b34",
  window: "#a35200",
  eta: ["#0b5cad", "#7b3fb3", "#1e7b34", "#a35200", "#b3261e"],
};

const charts = new Map(); // element id -> uPlot
const watcher = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const chart = charts.get(entry.target.id);
    const width = Math.floor(entry.contentRect.width);
    if (chart && width > 0 && width !== chart.width) chart.setSize({ width, height: HEIGHT });
  }
});

// Axis and legend times: the bucket's wall-clock name, read back in UTC (see buckets.js),
// in the browser's locale.
const dayFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
const hourFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", timeZone: "UTC" });
const fullFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: "UTC",
});
const whenDay = (seconds) => dayFormat.format(new Date(seconds * 1000));
const whenAny = (seconds) =>
  (seconds % 86400 === 0 ? dayFormat : hourFormat).format(new Date(seconds * 1000));

function xAxis(bucket) {
  return {
    // Days (and weeks) are labelled at midnight only: a split inside a day says nothing.
    values: (_, splits) =>
      splits.map((s) => (bucket === "hour" ? whenAny(s) : s % 86400 === 0 ? whenDay(s) : "")),
  };
}

function xSeries(bucket) {
  const format = bucket === "hour" ? (s) => fullFormat.format(new Date(s * 1000)) : whenDay;
  return { label: TEXT.axis_time, value: (_, s) => (s === null || s === undefined ? TEXT.none : format(s)) };
}

const percent = (value) => (value === null || value === undefined ? null : value * 100);
const minutes = (value) => (value === null || value === undefined ? null : value / 60);

function line(label, stroke) {
  return { label, stroke, width: 2, points: { show: true, size: 5 }, spanGaps: false };
}

function bars(label, fill) {
  return { label, stroke: fill, fill, width: 0, paths: uPlot.paths.bars({ size: [0.7, 48] }), points: { show: false } };
}

// Counts and errors from zero up, with a little headroom (a flat line is not a cliff).
const fromZero = (_, min, max) => [0, max > 0 ? max * 1.1 : 1];

function draw(id, bucket, series, data, yLabel, yRange = null) {
  const box = $(id);
  charts.get(id)?.destroy();
  const x = data[0];
  const half = STEP_S[bucket] / 2;
  const chart = new uPlot(
    {
      width: Math.max(200, Math.floor(box.clientWidth)),
      height: HEIGHT,
      tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
      // Half a bucket of room each side: the first and last bars whole, a lone bucket
      // readable (uPlot would spread one point over years).
      scales: {
        x: { time: true, auto: false, range: [x[0] - half, x[x.length - 1] + half] },
        y: yRange ? { auto: false, range: yRange } : { range: fromZero },
      },
      series: [xSeries(bucket), ...series],
      axes: [xAxis(bucket), { label: yLabel, size: 56 }],
      cursor: { drag: { x: false, y: false } },
    },
    data,
    box,
  );
  charts.set(id, chart);
  watcher.observe(box);
}

export function renderCharts(series) {
  draw(
    "chart-deliveries",
    series.bucket,
    [bars(TEXT.series_deliveries, COLOURS.deliveries), line(TEXT.series_failed, COLOURS.failed)],
    columns(series, [(row) => row?.deliveries ?? 0, (row) => row?.failed ?? 0]),
    TEXT.axis_count,
  );
  draw(
    "chart-on-time",
    series.bucket,
    [line(TEXT.series_on_time_promise, COLOURS.promise), line(TEXT.series_on_time_window, COLOURS.window)],
    columns(series, [(row) => percent(row?.on_time_rate_promise), (row) => percent(row?.on_time_rate_window)]),
    TEXT.axis_percent,
    [0, 100], // a rate on its whole scale: a 0.4 point wobble is not a cliff
  );
  draw(
    "chart-eta",
    series.bucket,
    HORIZONS.map((h, i) => line(t("series_eta", { horizon: TEXT[`horizon_${h}`] }), COLOURS.eta[i])),
    columns(series, HORIZONS.map((h) => (row) => minutes(row?.[`eta_${h}_mae_s`]))),
    TEXT.axis_minutes,
  );
}
