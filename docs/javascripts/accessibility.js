// Accessibility fixes to the theme's own markup, found by the axe-core audit of every page
// type (tests/test_site_browser.py): the search dialog gets a name, and a table box that
// scrolls (sideways, or down in its box) can be reached and scrolled with the keyboard.
(function () {
  "use strict";

  function focusableScrollBoxes() {
    document.querySelectorAll(".md-typeset__scrollwrap").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth || box.scrollHeight > box.clientHeight;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", "Table (scrolls)");
      }
    });
  }

  function setup() {
    var search = document.querySelector(".md-search[role='dialog']");
    if (search && !search.hasAttribute("aria-label")) search.setAttribute("aria-label", "Search");
    // The theme wraps tables after the page is shown, and re-wraps on instant navigation.
    focusableScrollBoxes();
    window.setTimeout(focusableScrollBoxes, 0);
    new MutationObserver(focusableScrollBoxes).observe(document.body, {
      childList: true,
      subtree: true,
    });
  }

  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(setup);
  } else {
    document.addEventListener("DOMContentLoaded", setup);
  }
})();
