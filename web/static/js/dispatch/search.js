// Finding an order (customer service): GET /api/orders?q= searches references, tracking
// numbers, customers' names, emails and phones; each result opens the order's panel.
import { clockTime, el, statusLabel } from "../format.js";
import { call, showProblem } from "./api.js";

const $ = (id) => document.getElementById(id);
const SHOWN_MAX = 20; // the rest: refine the search

export function initSearch({ onOpen }) {
  $("search-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = $("search-q").value.trim();
    const results = $("search-results");
    showProblem($("search-problem"), null);
    results.replaceChildren();
    $("search-summary").textContent = "Searching…";
    const result = await call("GET", `/api/orders?q=${encodeURIComponent(q)}&limit=${SHOWN_MAX + 1}`);
    if (!result.ok) {
      $("search-summary").textContent = "";
      showProblem($("search-problem"), result);
      $("search-q").focus();
      return;
    }
    const orders = result.body.orders;
    const shown = orders.slice(0, SHOWN_MAX);
    $("search-summary").textContent =
      orders.length === 0
        ? `No order matches “${q}”.`
        : orders.length > SHOWN_MAX
          ? `The first ${SHOWN_MAX} orders matching “${q}”; refine the search for the rest.`
          : `${orders.length} order${orders.length === 1 ? "" : "s"} matching “${q}”.`;
    for (const order of shown) {
      const label = `${order.reference ?? `#${order.id}`} · ${order.customer_name} · ${statusLabel(order.status)}`;
      const open = el("button", { type: "button", className: "link" }, label);
      open.addEventListener("click", () => onOpen(order.id));
      const created = el("span", { className: "muted" }, ` created ${clockTime(order.created_at)}`);
      results.append(el("li", { dataset: { orderId: order.id } }, open, created));
    }
  });
}
