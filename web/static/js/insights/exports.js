// The export buttons: a table of the view as CSV (`format=csv` of the API), and the orders
// created in the period. The API wants
// the key in a header, which a plain link cannot send, so the file is fetched with it and
// handed to the browser as a download (named as the API names it).

import { api } from "../dispatch/api.js";
import { $, el } from "./dom.js";
import { filterQuery } from "./query.js";
import { t, TEXT } from "./text.js";

function fileName(response, fallback) {
  const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") ?? "");
  return match ? match[1] : fallback;
}

// The orders export (`GET /api/orders?format=csv`) takes instants, both inclusive, and a
// driver; the insights' period is [from_at, to_at).
function ordersPath(view) {
  const params = new URLSearchParams({ format: "csv", from: view.from_at });
  params.set("to", new Date(Date.parse(view.to_at) - 1).toISOString());
  if (view.driver_id) params.set("driver_id", view.driver_id);
  return `/api/orders?${params}`;
}

function exportPath(table, view) {
  if (table === "orders") return ordersPath(view);
  const extra = table === "series" ? { bucket: view.bucket, format: "csv" } : { format: "csv" };
  return `/api/insights/${table}?${filterQuery(view, extra)}`;
}

async function download(table, view) {
  const path = exportPath(table, view);
  const problem = $("export-problem");
  problem.hidden = true;
  let response;
  try {
    response = await api(path);
  } catch {
    response = null;
  }
  if (!response?.ok) {
    let error = response ? `HTTP ${response.status}` : TEXT.networkError;
    try {
      error = (await response.json()).error ?? error;
    } catch {
      // not JSON: the status says enough
    }
    problem.textContent = t("exportFailed", { error });
    problem.hidden = false;
    return;
  }
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: fileName(response, `insights-${table}.csv`), hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000); // the download has long started
}

// `currentView()`: the view the page shows (the export is of what is on screen).
export function initExports(currentView) {
  for (const button of document.querySelectorAll("button.export")) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await download(button.dataset.table, currentView());
      } finally {
        button.disabled = false;
      }
    });
  }
}
