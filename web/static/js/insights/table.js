// A sortable table: a header button per column (aria-sort on its <th>), rows sorted in the
// browser (a table holds one row per driver or zone: hundreds, not millions). Nulls sort
// last whichever the direction. The sort survives new rows (a filter change).

import { el } from "./dom.js";
import { TEXT, figure, t } from "./text.js";

const byText = new Intl.Collator(undefined, { numeric: true }).compare;

function compare(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  return typeof a === "number" && typeof b === "number" ? a - b : byText(String(a), String(b));
}

// `columns`: [{key, label, kind ("text" or a figure kind), value(row)?, cell(row)?}];
// `rowKey(row)`: what the row's data-key says (default: its first column).
export function sortableTable(table, columns, { key, descending = false, rowKey } = {}) {
  const sort = { key: key ?? columns[0].key, descending };
  let rows = [];

  function value(column, row) {
    return column.value ? column.value(row) : row[column.key];
  }

  // `focusKey`: the column whose button was pressed keeps the focus across the redraw.
  function render(focusKey = null) {
    const column = columns.find((c) => c.key === sort.key) ?? columns[0];
    const sorted = [...rows].sort((a, b) => {
      const x = value(column, a);
      const y = value(column, b);
      if (x === null || x === undefined || y === null || y === undefined) return compare(x, y);
      return sort.descending ? compare(y, x) : compare(x, y);
    });
    const head = el(
      "tr",
      {},
      ...columns.map((c) => {
        const th = el("th", { scope: "col", className: c.kind === "text" ? "" : "num" });
        if (c.key === sort.key) th.setAttribute("aria-sort", sort.descending ? "descending" : "ascending");
        const button = el("button", { type: "button", className: "sort", title: t("sortBy", { column: c.label }) }, c.label);
        button.addEventListener("click", () => {
          sort.descending = c.key === sort.key ? !sort.descending : c.kind !== "text";
          sort.key = c.key;
          render(c.key);
        });
        if (c.key === focusKey) queueMicrotask(() => button.focus());
        th.append(button);
        return th;
      }),
    );
    const body = sorted.map((row) =>
      el(
        "tr",
        { dataset: { key: String(rowKey ? rowKey(row) : (row[columns[0].key] ?? "")) } },
        ...columns.map((c, i) => {
          const content = c.cell ? c.cell(row) : c.kind === "text" ? (value(c, row) ?? TEXT.none) : figure(c.kind, value(c, row));
          return el(i === 0 ? "th" : "td", { className: c.kind === "text" ? "" : "num", scope: i === 0 ? "row" : undefined }, content);
        }),
      ),
    );
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...body));
  }

  return {
    show(newRows) {
      rows = newRows;
      render();
    },
  };
}
