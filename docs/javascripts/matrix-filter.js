// Filters for the feature matrix: rows by interface and mode, columns by check group.
// The page carries #sd-matrix-filters (its data-groups lists each check column's group, in
// column order) right before the matrix table. No data is read from anywhere else.
(function () {
  "use strict";

  function setup() {
    var controls = document.getElementById("sd-matrix-filters");
    if (!controls || controls.dataset.ready) return;
    controls.dataset.ready = "1";
    var table = document.querySelector("table.sd-matrix, .md-typeset table");
    if (!table) return;
    var groups = JSON.parse(controls.dataset.groups || "[]");
    var fixedColumns = 3; // Server, Interface, Mode

    function apply() {
      var wanted = {};
      controls.querySelectorAll("select").forEach(function (select) {
        wanted[select.dataset.filter] = select.value;
      });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        var cells = row.children;
        var show =
          (!wanted.interface || cells[1].textContent.trim() === wanted.interface) &&
          (!wanted.mode || cells[2].textContent.trim() === wanted.mode);
        row.hidden = !show;
      });
      table.querySelectorAll("tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (cell, index) {
          if (index < fixedColumns) return;
          var group = groups[index - fixedColumns];
          cell.hidden = Boolean(wanted.group) && group !== wanted.group;
        });
      });
      var visible = table.querySelectorAll("tbody tr:not([hidden])").length;
      controls.querySelector("output").textContent = visible + " configurations shown";
    }

    controls.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", apply);
    });
    apply();
  }

  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(setup);
  } else {
    document.addEventListener("DOMContentLoaded", setup);
  }
})();
