// rayline Studio, tuning trials: sort the trials table by a column (numbers as numbers,
// empty cells last). The server renders the table best first; this only reorders its rows.
"use strict";

function sortable(table) {
  const heads = Array.from(table.querySelectorAll("thead th"));
  heads.forEach((th, column) => {
    const button = th.querySelector("button.sort");
    if (!button) return;
    button.addEventListener("click", () => {
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach((h) => h.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const body = table.tBodies[0];
      const key = (row) => {
        const cell = row.cells[column];
        const raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
        const n = Number(raw);
        return { empty: raw === "", n: raw !== "" && !Number.isNaN(n) ? n : null, text: raw };
      };
      const rows = Array.from(body.rows).map((row) => ({ row, k: key(row) }));
      rows.sort((a, b) => {
        if (a.k.empty !== b.k.empty) return a.k.empty ? 1 : -1;
        const order = a.k.n !== null && b.k.n !== null
          ? a.k.n - b.k.n : a.k.text.localeCompare(b.k.text, undefined, { numeric: true });
        return ascending ? order : -order;
      });
      body.replaceChildren(...rows.map((r) => r.row));
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.sortable").forEach(sortable);
});
