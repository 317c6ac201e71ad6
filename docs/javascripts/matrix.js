// The feature matrix: one check group at a time (the group switcher), rows filtered by
// interface and mode, and deep links: #<configuration>/<check> opens that check's group with
// the cell highlighted. Without this script the whole table shows. No data is read from
// anywhere but the page.
(function () {
  "use strict";

  function setup() {
    var controls = document.getElementById("sd-matrix-filters");
    var table = document.querySelector("table.sd-matrix");
    var wrap = table ? table.closest(".sd-matrix-wrap") : null;
    if (!controls || !table || !wrap || controls.dataset.ready) return;
    controls.dataset.ready = "1";

    function chosenGroup() {
      var checked = controls.querySelector("input[name='sd-group']:checked");
      return checked ? checked.value : "";
    }

    function apply() {
      var wanted = {};
      controls.querySelectorAll("select").forEach(function (select) {
        wanted[select.dataset.filter] = select.value;
      });
      var group = chosenGroup();
      // The rows of Django's own handlers have no mode: they show under either.
      table.querySelectorAll("tbody tr").forEach(function (row) {
        row.hidden = Boolean(
          (wanted.interface && row.dataset.interface !== wanted.interface) ||
            (wanted.mode && row.dataset.mode && row.dataset.mode !== wanted.mode)
        );
      });
      table.querySelectorAll("[data-group]").forEach(function (cell) {
        cell.hidden = Boolean(group) && cell.dataset.group !== group;
      });
      // A table that fits needs no scrolling box of its own: then its header can stick to the
      // page instead (see outcomes.css).
      wrap.classList.remove("sd-fits");
      wrap.classList.toggle("sd-fits", wrap.scrollWidth <= wrap.clientWidth + 1);
      var rows = table.querySelectorAll("tbody tr[data-server]:not([hidden])").length;
      var checks = table.querySelectorAll("thead th[data-group]:not([hidden])").length;
      controls.querySelector("output").textContent =
        rows + " configurations, " + checks + " checks shown";
    }

    function choose(group) {
      controls.querySelectorAll("input[name='sd-group']").forEach(function (input) {
        input.checked = input.value === group;
      });
    }

    function highlight() {
      table.querySelectorAll(".sd-target").forEach(function (cell) {
        cell.classList.remove("sd-target");
      });
      var id = decodeURIComponent(window.location.hash.slice(1));
      var cell = id.indexOf("/") > 0 ? document.getElementById(id) : null;
      if (!cell || !table.contains(cell)) return;
      choose(cell.dataset.group || "");
      controls.querySelectorAll("select").forEach(function (select) {
        select.value = "";
      });
      apply();
      cell.classList.add("sd-target");
      cell.scrollIntoView({ block: "center", inline: "center" });
      var link = cell.querySelector("a");
      if (link) link.focus({ preventScroll: true });
    }

    var initial = controls.querySelector("input[data-default]");
    if (initial && !chosenGroup()) initial.checked = true;
    controls.querySelectorAll("select, input[name='sd-group']").forEach(function (input) {
      input.addEventListener("change", apply);
    });
    window.addEventListener("hashchange", highlight);
    window.addEventListener("resize", apply);
    apply();
    highlight();
  }

  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(setup);
  } else {
    document.addEventListener("DOMContentLoaded", setup);
  }
})();
