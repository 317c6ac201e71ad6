// Pick by need: the configurations whose measured outcomes satisfy every ticked need, from
// data/outcomes.json (matrix.json's outcomes, causes and desync inputs without their
// evidence), ranked as the page says (production first, then most checks that say yes, then by
// name). The needs and the rule come from the page (generators/needs.py renders the same rule
// into the tables below the form). A result that Django's handler or the sample project
// decided (its cause) is not held against the server.
(function () {
  "use strict";

  function text(tag, content, className) {
    var element = document.createElement(tag);
    element.textContent = content;
    if (className) element.className = className;
    return element;
  }

  function setup() {
    var form = document.getElementById("sd-pick");
    var result = document.getElementById("sd-pick-result");
    if (!form || !result || form.dataset.ready) return;
    form.dataset.ready = "1";
    var needs = JSON.parse(form.dataset.needs || "[]");
    var matrix = null;

    function outcomesOf(serverId) {
      var outcomes = {};
      matrix.results.forEach(function (item) {
        if (item.server === serverId) outcomes[item.check] = item;
      });
      return outcomes;
    }

    function render() {
      var ticked = needs.filter(function (need) {
        return form.querySelector("input[value='" + need.id + "']").checked;
      });
      result.replaceChildren();
      if (!ticked.length) {
        result.appendChild(text("p", "Tick one or more needs above."));
        return;
      }
      var rows = matrix.servers.map(function (server) {
        var outcomes = outcomesOf(server.id);
        var yes = Object.keys(outcomes).filter(function (id) {
          return outcomes[id].outcome === "yes";
        }).length;
        var ok = ticked.every(function (need) {
          var outcomesMet = Object.keys(need.require).every(function (check) {
            var found = outcomes[check];
            return Boolean(found) && (
              need.require[check].indexOf(found.outcome) >= 0 ||
              found.cause === "django" || found.cause === "project"
            );
          });
          // A check in no_desync must show no input that desyncs, whatever its outcome.
          var noDesync = (need.no_desync || []).every(function (check) {
            var inputs = outcomes[check] && outcomes[check].desync_inputs;
            return Array.isArray(inputs) && inputs.length === 0;
          });
          return outcomesMet && noDesync;
        });
        return { server: server, outcomes: outcomes, yes: yes, ok: ok };
      }).filter(function (row) { return row.ok; });
      rows.sort(function (a, b) {
        var pa = a.server.mode === "production" ? 0 : 1, pb = b.server.mode === "production" ? 0 : 1;
        if (pa !== pb) return pa - pb;
        if (a.yes !== b.yes) return b.yes - a.yes;
        return a.server.name < b.server.name ? -1 : a.server.name > b.server.name ? 1 : 0;
      });
      var names = ticked.map(function (need) { return need.label; }).join(" + ");
      result.appendChild(text("p", rows.length + " configuration" + (rows.length === 1 ? "" : "s") +
        " satisfy " + names + (rows.length ? ":" : ".")));
      if (!rows.length) return;
      var list = document.createElement("ol");
      list.className = "sd-pick-list";
      rows.forEach(function (row) {
        var item = document.createElement("li");
        item.dataset.server = row.server.id;
        var link = text("a", row.server.name);
        link.href = "../servers/" + encodeURIComponent(row.server.id) + "/";
        item.appendChild(link);
        item.appendChild(document.createTextNode(
          " (" + row.server.interface.toUpperCase() + ", " + row.server.mode + "; " + row.yes +
          " checks say yes)"));
        var command = row.server.command.join(" ").split("{port}").join("8000");
        var code = text("code", command);
        var block = document.createElement("div");
        block.appendChild(code);
        item.appendChild(block);
        result.appendChild(list);
        list.appendChild(item);
      });
    }

    fetch(form.dataset.matrix)
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        matrix = data;
        form.addEventListener("change", render);
        render();
      })
      .catch(function (error) {
        result.replaceChildren(text("p", "The results could not be loaded (" + error.message +
          "); the tables below give the answer per need."));
      });
  }

  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(setup);
  } else {
    document.addEventListener("DOMContentLoaded", setup);
  }
})();
