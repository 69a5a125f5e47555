// The customer pages' languages: one catalog per language in /static/i18n/<lang>.js
// (`export default {key: text}`), English built in so a page without a catalog (or before
// it loads) still reads right. A key's text holds {placeholders}; a plural key holds
// {one, other, ...} chosen by Intl.PluralRules for {n}. Dates and times are formatted in
// the chosen locale and the order's time zone (format.js asks `locale()` and `timeZone()`).
import en from "../i18n/en.js";

export const LANGUAGES = ["en", "pt", "es", "fr", "de"];

const current = { tag: "en", language: "en", zone: undefined, catalog: en, plural: null };

// The best supported locale: the order's own (set by the shop), then the browser's
// preferences; "pt-BR" keeps its region for dates but takes the "pt" catalog.
export function chooseLocale(orderLocale, browserLocales = navigator.languages || []) {
  for (const tag of [orderLocale, ...browserLocales]) {
    if (typeof tag !== "string" || !tag) continue;
    let canonical;
    try {
      [canonical] = Intl.getCanonicalLocales(tag);
    } catch {
      continue;  // not a BCP 47 tag
    }
    const language = canonical.split("-")[0].toLowerCase();
    if (LANGUAGES.includes(language)) return { tag: canonical, language };
  }
  return { tag: "en", language: "en" };
}

// Load the catalog for `orderLocale` (or the browser's language) and use it from now on;
// `zone` is the IANA time zone dates are shown in (undefined: the browser's).
export async function useLocale(orderLocale, zone) {
  const { tag, language } = chooseLocale(orderLocale);
  let catalog = en;
  if (language !== "en") {
    try {
      catalog = { ...en, ...(await import(`../i18n/${language}.js`)).default };
    } catch {
      catalog = en;  // the page still works, in English
    }
  }
  let validZone;
  try {
    validZone = zone ? Intl.DateTimeFormat(undefined, { timeZone: zone }).resolvedOptions().timeZone : undefined;
  } catch {
    validZone = undefined;
  }
  Object.assign(current, { tag, language, zone: validZone, catalog, plural: null });
  document.documentElement.lang = catalog === en ? "en" : tag;
  return tag;
}

export function locale() {
  return current.tag;
}

export function timeZone() {
  return current.zone;
}

export function language() {
  return current.language;
}

// The text for `key` with {placeholders} filled from `params`; plural keys use params.n.
export function t(key, params = {}) {
  let text = current.catalog[key] ?? en[key];
  if (text === undefined) return key;
  if (typeof text === "object") {
    current.plural ||= new Intl.PluralRules(current.tag);
    const form = current.plural.select(Number(params.n ?? 0));
    text = text[form] ?? text.other;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

// Fill the static text of a page: elements with data-i18n="key" get the text, and
// data-i18n-attr="attribute:key;other:key" their attributes.
export function translatePage(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n);
  }
  for (const node of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(";")) {
      const [attribute, key] = pair.split(":").map((part) => part.trim());
      if (attribute && key) node.setAttribute(attribute, t(key));
    }
  }
}
