// Pick by need: the answer to every ticked need together, from data/outcomes.json (matrix.json's
// outcomes, causes and desync inputs without their evidence), by the rule of
// generators/ranking.py (the same answers the home page and /recommendations/ print per need):
// a configuration qualifies when it is of the needs' mode (and interface, when one is fixed) and
// every required check has an allowed outcome, or one Django's handler or the sample project
// decided (not held against the server); per interface, one ranks above another only when it is
// at least as good on every ranked check and better on one; the rest is a tie, listed by name
// for reading only. Each configuration shows what to watch out for, from its own results.
(function () {
  "use strict";

  var GRADES = { no: 1, partial: 2, yes: 3 };
  var INTERFACES = ["wsgi", "asgi"];

  function text(tag, content, className) {
    var element = document.createElement(tag);
    element.textContent = content;
    if (className) element.className = className;
    return element;
  }

  function unique(items) {
    return items.filter(function (item, index) { return items.indexOf(item) === index; });
  }

  function setAside(result) {
    return result.cause === "django" || result.cause === "project";
  }

  // generators.ranking.grade: how a result compares; null when it does not.
  function grade(result) {
    if (!result || setAside(result)) return null;
    if (result.desync_inputs && result.desync_inputs.length) return GRADES.no;
    return GRADES[result.outcome] || null;
  }

  // generators.ranking.better_on: the checks on which a is better than b when a ranks above b.
  function betterOn(a, b, checks) {
    var better = [];
    for (var i = 0; i < checks.length; i++) {
      var mine = a.grades[checks[i]], theirs = b.grades[checks[i]];
      if (mine === null && theirs === null) continue;
      if (mine === null || theirs === null || mine < theirs) return null;
      if (mine > theirs) better.push(checks[i]);
    }
    return better.length ? better : null;
  }

  function tiers(rows, checks) {
    var remaining = rows.slice(), layered = [];
    while (remaining.length) {
      var tier = remaining.filter(function (row) {
        return !remaining.some(function (other) { return betterOn(other, row, checks); });
      });
      tier.sort(function (a, b) {
        return a.server.name < b.server.name ? -1 : a.server.name > b.server.name ? 1 : 0;
      });
      layered.push(tier);
      remaining = remaining.filter(function (row) { return tier.indexOf(row) < 0; });
    }
    return layered;
  }

  function setup() {
    var form = document.getElementById("sd-pick");
    var result = document.getElementById("sd-pick-result");
    if (!form || !result || form.dataset.ready) return;
    form.dataset.ready = "1";
    var needs = JSON.parse(form.dataset.needs || "[]");
    var rule = JSON.parse(form.dataset.rule || "{}");
    var matrix = null;

    function outcomesOf(serverId) {
      var outcomes = {};
      matrix.results.forEach(function (item) {
        if (item.server === serverId) outcomes[item.check] = item;
      });
      return outcomes;
    }

    function qualifies(outcomes, ticked) {
      return ticked.every(function (need) {
        var met = Object.keys(need.require).every(function (check) {
          var found = outcomes[check];
          return Boolean(found) && (need.require[check].indexOf(found.outcome) >= 0 || setAside(found));
        });
        // A check in no_desync must show no input that desyncs, whatever its outcome.
        var noDesync = (need.no_desync || []).every(function (check) {
          var inputs = outcomes[check] && outcomes[check].desync_inputs;
          return Array.isArray(inputs) && inputs.length === 0;
        });
        return met && noDesync;
      });
    }

    // generators.ranking.caveats, without the summaries (outcomes.json has none).
    function caveats(outcomes, checks) {
      return checks.map(function (check) {
        var found = outcomes[check], title = rule.titles[check] || check;
        if (!found) return title + " not measured";
        var desyncs = found.desync_inputs || [];
        var worth = found.outcome === "no" || found.outcome === "error" || desyncs.length > 0 ||
          (found.outcome === "partial" && found.desync_inputs === null);
        if (!worth) return null;
        return title + ": " + found.outcome + (setAside(found) ? " (decided by " + found.cause + ")" : "");
      }).filter(Boolean);
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
      var modes = unique(ticked.map(function (need) { return need.mode; }));
      var fixed = unique(ticked.map(function (need) { return need.interface; }).filter(Boolean));
      var names = ticked.map(function (need) { return need.label; }).join(" + ");
      if (modes.length > 1 || fixed.length > 1) {
        result.appendChild(text("p", "No configuration can satisfy " + names + ": these needs are about " +
          (modes.length > 1 ? "different modes (" + modes.join(", ") + ")" : "different interfaces (" + fixed.join(", ") + ")") + "."));
        return;
      }
      var rankBy = unique([].concat.apply([], ticked.map(function (need) { return need.rank_by; })));
      var required = unique([].concat.apply([], ticked.map(function (need) { return Object.keys(need.require); })));
      var measured = {};
      matrix.results.forEach(function (item) { measured[item.check] = true; });
      var considered = unique(rankBy.concat(rule.watch)).filter(function (check) { return measured[check]; });
      var rows = matrix.servers.filter(function (server) {
        return server.mode === modes[0] && (!fixed.length || server.interface === fixed[0]);
      }).map(function (server) {
        var outcomes = outcomesOf(server.id), grades = {};
        rankBy.forEach(function (check) { grades[check] = grade(outcomes[check]); });
        return { server: server, outcomes: outcomes, grades: grades };
      }).filter(function (row) { return qualifies(row.outcomes, ticked); });
      var count = rows.length;
      result.appendChild(text("p", count + " configuration" + (count === 1 ? "" : "s") + " satisfy " + names +
        (count ? "; per interface, best first (a tie shares its rank; " +
          (rankBy.length ? "ranked by " + rankBy.map(function (c) { return rule.titles[c] || c; }).join(", ") : "nothing ranks them") +
          "):" : ".")));
      if (!count) return;
      var list = document.createElement("ol");
      list.className = "sd-pick-list";
      (fixed.length ? fixed : INTERFACES).forEach(function (interfaceId) {
        var layered = tiers(rows.filter(function (row) { return row.server.interface === interfaceId; }), rankBy);
        layered.forEach(function (tier, index) {
          tier.forEach(function (row) {
            var item = document.createElement("li");
            item.dataset.server = row.server.id;
            item.dataset.tier = String(index + 1);
            var link = text("a", row.server.name);
            link.href = "../servers/" + encodeURIComponent(row.server.id) + "/";
            item.appendChild(link);
            item.appendChild(document.createTextNode(
              " (" + row.server.interface.toUpperCase() + ", rank " + (index + 1) +
              (tier.length > 1 ? ", tied with " + (tier.length - 1) + " other" + (tier.length > 2 ? "s" : "") : "") + ")"));
            var watch = caveats(row.outcomes, required.concat(considered));
            if (watch.length) item.appendChild(text("div", "Watch out: " + unique(watch).join("; ")));
            var command = row.server.command.join(" ").split("{port}").join("8000");
            var block = document.createElement("div");
            block.appendChild(text("code", command));
            item.appendChild(block);
            list.appendChild(item);
          });
        });
      });
      result.appendChild(list);
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
