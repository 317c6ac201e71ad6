// Server pages keep each check's evidence in servers/evidence/<id>.json (the page would weigh
// most of a megabyte with it): an "Evidence" box fetches that file the first time it is
// opened and shows its part. The JSON is put in as text, never as markup: contributed data
// is untrusted.
(function () {
  "use strict";

  var documents = {}; // one fetch per file, shared by every box of the page

  function load(url) {
    if (!documents[url]) {
      documents[url] = fetch(url).then(function (response) {
        if (!response.ok) throw new Error(url + " answered HTTP " + response.status);
        return response.json();
      });
    }
    return documents[url];
  }

  function part(evidence, link) {
    var key = link.getAttribute("data-key");
    if (key === "provenance") return evidence.provenance;
    var check = evidence.checks[key];
    if (!check) throw new Error("no check " + key + " in " + link.href);
    var option = link.getAttribute("data-option");
    if (option === null) return check.evidence;
    var tried = check.options[Number(option)];
    if (!tried) throw new Error("no option " + option + " of " + key + " in " + link.href);
    return tried.evidence;
  }

  function show(box, text) {
    var pre = document.createElement("pre");
    pre.className = "sd-evidence-json";
    pre.setAttribute("tabindex", "0"); // it scrolls: the keyboard must reach it
    pre.setAttribute("aria-label", "Evidence as JSON");
    pre.textContent = text;
    box.appendChild(pre);
  }

  function open(box) {
    var link = box.querySelector("a.sd-evidence-source");
    if (!link || box.hasAttribute("data-loaded")) return;
    box.setAttribute("data-loaded", "");
    load(link.href)
      .then(function (evidence) {
        show(box, JSON.stringify(part(evidence, link), null, 2));
      })
      .catch(function (error) {
        show(box, "Could not load the evidence: " + error.message);
      });
  }

  function setup() {
    document.querySelectorAll("details.sd-evidence").forEach(function (box) {
      if (box.open) open(box);
      box.addEventListener("toggle", function () {
        if (box.open) open(box);
      });
    });
  }

  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(setup);
  } else {
    document.addEventListener("DOMContentLoaded", setup);
  }
})();
