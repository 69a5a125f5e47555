// Human-readable times, durations and distances, in the page's language (i18n.js: English
// unless a page chose another) and, for customers, the order's time zone.
import { locale, t, timeZone } from "./i18n.js";

const formatters = new Map();

function formatter(kind, options) {
  const key = `${kind}|${locale()}|${timeZone() || ""}`;
  let found = formatters.get(key);
  if (!found) {
    found = new Intl.DateTimeFormat(locale(), { ...options, timeZone: timeZone() });
    formatters.set(key, found);
  }
  return found;
}

const CLOCK = { hour: "2-digit", minute: "2-digit" };
const DAY_AND_CLOCK = { weekday: "short", day: "numeric", month: "short", ...CLOCK };
const DAY = { year: "numeric", month: "2-digit", day: "2-digit" };

export function parseTime(value) {
  if (value === null || value === undefined) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function clockTime(value) {
  const date = parseTime(value);
  return date ? formatter("clock", CLOCK).format(date) : "";
}

export function dateTime(value) {
  const date = parseTime(value);
  return date ? formatter("day-clock", DAY_AND_CLOCK).format(date) : "";
}

// The calendar day of a date in the page's time zone, comparable between dates.
function dayOf(date) {
  return formatter("day", DAY).format(date);
}

// A time with its date unless it is today (in the page's time zone): "14:05", "Tue 3 Dec 09:10".
export function when(value, now = new Date()) {
  const date = parseTime(value);
  if (!date) return "";
  return dayOf(date) === dayOf(now) ? clockTime(date) : dateTime(date);
}

export function duration(seconds) {
  if (seconds < 60) return t("duration.under_minute");
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return t("duration.minutes", { n: minutes });
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? t("duration.hours_minutes", { h: hours, n: rest }) : t("duration.hours", { h: hours });
}

export function distance(metres) {
  if (metres === null || metres === undefined) return "";
  if (metres < 950) return t("distance.m", { n: Math.max(10, Math.round(metres / 10) * 10) });
  const km = new Intl.NumberFormat(locale(), { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  return t("distance.km", { km: km.format(metres / 1000) });
}

export function ago(value, now = Date.now()) {
  const date = parseTime(value);
  if (!date) return "";
  const seconds = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (seconds < 60) return t("ago.seconds", { n: seconds });
  if (seconds < 3600) return t("ago.minutes", { n: Math.floor(seconds / 60) });
  return t("ago.hours", { n: Math.floor(seconds / 3600) });
}

export const STATUSES = [
  "confirmed",
  "processing",
  "packed",
  "shipped",
  "out_for_delivery",
  "arrived",
  "delivered",
  "failed",
  "cancelled",
  "returned",
];

export function statusLabel(status) {
  return STATUSES.includes(status) ? t(`status.${status}`) : status;
}

// Build an element: el("li", {className: "x", dataset: {id: 1}}, "text", child...)
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("aria-") || key === "role") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
