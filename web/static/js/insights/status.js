// What the page is doing, in one status line: loading, no data in the range, an API error,
// a key that may not see insights (403); the report is shown only when there is one.

import { $ } from "./dom.js";
import { t } from "./text.js";

// `kind`: "loading" (the old report stays, dimmed), "empty", "error", "forbidden", "ready".
export function showState(kind, vars = {}) {
  const line = $("state");
  line.dataset.state = kind;
  line.textContent = kind === "ready" ? "" : t(kind, vars);
  line.classList.toggle("problem", kind === "error" || kind === "forbidden");
  const report = $("report");
  report.setAttribute("aria-busy", String(kind === "loading"));
  if (kind !== "loading") report.hidden = kind !== "ready";
  $("filters").hidden = kind === "forbidden";
}
