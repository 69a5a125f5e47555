// Failure reasons of the period (`summary.current.failure_reasons`), most frequent first,
// each with a bar of its share of the failed attempts.

import { $, el } from "./dom.js";
import { figure, reasonLabel, t } from "./text.js";

export function renderFailures(summary) {
  const reasons = Object.entries(summary.current.failure_reasons ?? {}).sort(
    (a, b) => b[1] - a[1] || a[0].localeCompare(b[0]),
  );
  const total = reasons.reduce((sum, [, n]) => sum + n, 0);
  if (!total) {
    $("failures").replaceChildren(el("li", { className: "muted" }, t("noFailures")));
    return;
  }
  const items = reasons.map(([code, n]) => {
    const bar = el("span", { className: "share", "aria-hidden": "true" });
    bar.style.setProperty("--share", String(n / total));
    return el(
      "li",
      { dataset: { reason: code } },
      el("span", { className: "reason" }, reasonLabel(code)),
      el("span", { className: "num" }, t("failureCount", { count: figure("count", n), share: figure("rate", n / total) })),
      bar,
    );
  });
  $("failures").replaceChildren(...items);
}
