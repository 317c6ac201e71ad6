// Benchmark tables sort by any column: each header of a table on a benchmark page gets a
// button; pressing it orders the rows by that column's first number (or its text), again to
// reverse. Rows without a number ("failed", "n/a") go last either way. The order a page was
// built in (matrix order) comes back on reload; nothing is stored.
(function () {
  "use strict";

  var NUMBER = /-?\d[\d,]*(\.\d+)?/;

  function key(cell) {
    var text = cell.textContent.trim();
    var found = text.match(NUMBER);
    return found ? { number: parseFloat(found[0].replace(/,/g, "")) } : { text: text.toLowerCase() };
  }

  function compare(a, b, direction) {
    if (a.number !== undefined && b.number !== undefined) return (a.number - b.number) * direction;
    if (a.number !== undefined) return -1; // numbers first, whatever the direction
    if (b.number !== undefined) return 1;
    return a.text.localeCompare(b.text) * direction;
  }

  function sort(table, column, header) {
    var body = table.tBodies[0];
    if (!body) return;
    var direction = header.getAttribute("aria-sort") === "descending" ? 1 : -1;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[column], y = b.cells[column];
      if (!x || !y) return 0;
      return compare(key(x), key(y), direction);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      cell.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", direction === 1 ? "ascending" : "descending");
  }

  function sortable(table) {
    if (!table.tHead || table.hasAttribute("data-sortable")) return;
    table.setAttribute("data-sortable", "");
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
      if (header.querySelector("a, button")) return; // no control inside another
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sd-sort";
      while (header.firstChild) button.appendChild(header.firstChild);
      button.setAttribute("title", "Sort by this column");
      button.addEventListener("click", function () { sort(table, column, header); });
      header.appendChild(button);
    });
  }

  function setup() {
    if (!/\/benchmarks\//.test(window.location.pathname)) return;
    document.querySelectorAll(".md-typeset__table table").forEach(sortable);
  }

  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(setup);
  } else {
    document.addEventListener("DOMContentLoaded", setup);
  }
})();
