// The series as charts (uPlot, vendored from npm: /static/vendor/uplot/): deliveries and
// failed attempts per bucket, the on-time rates, the ETA's mean absolute error by horizon.
// Redrawn for each answer; resized with their box.

import uPlot from "/static/vendor/uplot/uPlot.esm.js";
import { $ } from "./dom.js";
import { columns } from "./buckets.js";
import { HORIZONS } from "./eta.js";
import { TEXT, t } from "./text.js";

const HEIGHT = 220;
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

const percent = (value) => (value === null || value === undefined ? null : value * 100);
const minutes = (value) => (value === null || value === undefined ? null : value / 60);

function line(label, stroke) {
  return { label, stroke, width: 2, points: { show: true, size: 5 }, spanGaps: false };
}

function bars(label, fill) {
  return { label, stroke: fill, fill, width: 0, paths: uPlot.paths.bars({ size: [0.7, 48] }), points: { show: false } };
}

function draw(id, series, data, yLabel) {
  const box = $(id);
  charts.get(id)?.destroy();
  const chart = new uPlot(
    {
      width: Math.max(200, Math.floor(box.clientWidth)),
      height: HEIGHT,
      tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
      scales: { x: { time: true } },
      series: [{}, ...series],
      axes: [{}, { label: yLabel, size: 56 }],
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
    [bars(TEXT.series_deliveries, COLOURS.deliveries), line(TEXT.series_failed, COLOURS.failed)],
    columns(series, [(row) => row?.deliveries ?? 0, (row) => row?.failed ?? 0]),
    TEXT.axis_count,
  );
  draw(
    "chart-on-time",
    [line(TEXT.series_on_time_promise, COLOURS.promise), line(TEXT.series_on_time_window, COLOURS.window)],
    columns(series, [(row) => percent(row?.on_time_rate_promise), (row) => percent(row?.on_time_rate_window)]),
    TEXT.axis_percent,
  );
  draw(
    "chart-eta",
    HORIZONS.map((h, i) => line(t("series_eta", { horizon: TEXT[`horizon_${h}`] }), COLOURS.eta[i])),
    columns(series, HORIZONS.map((h) => (row) => minutes(row?.[`eta_${h}_mae_s`]))),
    TEXT.axis_minutes,
  );
}
