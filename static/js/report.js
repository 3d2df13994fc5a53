// The report page's two panes: a finding's quote finds its passage in the document and flashes it; a marked
// passage shows which findings rest on it; j/k (or the arrow keys) move between findings; the first-pass layer
// can be shown or hidden. Reads only data-* attributes the server wrote and never writes HTML.
(function () {
  "use strict";

  function flash(el) {
    el.classList.remove("flash");
    void el.offsetWidth; // restart the animation
    el.classList.add("flash");
  }

  function marksFor(key) {
    // The passage in the text and, where the page image is shown, its lines on the image.
    var selector = '.doc-pane mark[data-keys~="' + key + '"]';
    if (!document.querySelector(".doc-pane.text-only")) selector = '.doc-pane .hl-box[data-keys~="' + key + '"], ' + selector;
    return document.querySelectorAll(selector);
  }

  function showPassage(quote, event) {
    var key = quote.getAttribute("data-key");
    var marks = key ? marksFor(key) : [];
    if (!marks.length) return; // not in the pages shown: the link loads the window that holds it
    if (event) event.preventDefault();
    marks[0].scrollIntoView({ block: "center", behavior: "smooth" });
    marks.forEach(flash);
    document.querySelectorAll(".doc-pane .current").forEach(function (m) { m.classList.remove("current"); });
    marks.forEach(function (m) { m.classList.add("current"); });
  }

  function showFindings(mark) {
    var ids = (mark.getAttribute("data-findings") || "").split(" ").filter(Boolean);
    if (!ids.length) return;
    var first = document.getElementById(ids[0]);
    if (!first) {
      // The pane marks the quotes of every finding; this one is on another findings page: go there.
      var pages = (mark.getAttribute("data-findings-pages") || "").split(" ");
      var url = new URL(location.href);
      url.searchParams.set("fpage", pages[0] || "1");
      url.hash = ids[0];
      location.assign(url.toString());
      return;
    }
    selectFinding(first, true);
    ids.forEach(function (id) { var f = document.getElementById(id); if (f) flash(f); });
  }

  var findings = [];
  var current = -1;

  function selectFinding(el, scroll) {
    findings.forEach(function (f) { f.classList.remove("selected"); });
    el.classList.add("selected");
    current = findings.indexOf(el);
    if (scroll) el.scrollIntoView({ block: "nearest", behavior: "smooth" });
    el.focus({ preventScroll: true });
  }

  function move(step) {
    if (!findings.length) return;
    var next = Math.min(findings.length - 1, Math.max(0, current + step));
    selectFinding(findings[next], true);
    var quote = findings[next].querySelector(".quote.verified a.to-passage");
    if (quote) showPassage(quote, null);
  }

  document.addEventListener("DOMContentLoaded", function () {
    findings = Array.prototype.slice.call(document.querySelectorAll(".finding[id]"));
    document.querySelectorAll("a.to-passage").forEach(function (a) {
      a.addEventListener("click", function (event) {
        var finding = a.closest(".finding");
        if (finding) selectFinding(finding, false);
        showPassage(a, event);
      });
    });
    // Boxes on page images: placed from their data (percent of the page), as style attributes would break the CSP.
    document.querySelectorAll(".doc-pane .hl-box[data-box]").forEach(function (box) {
      var g = box.getAttribute("data-box").split(" ").map(Number);
      box.style.left = g[0] + "%"; box.style.top = g[1] + "%"; box.style.width = g[2] + "%"; box.style.height = g[3] + "%";
    });
    var images = document.getElementById("toggle-images");
    if (images) {
      var showImages = function () { document.querySelector(".doc-pane").classList.toggle("text-only", !images.checked); };
      images.addEventListener("change", showImages);
      showImages();
    }
    document.querySelectorAll(".doc-pane mark[data-findings], .doc-pane .hl-box[data-findings]").forEach(function (mark) {
      mark.setAttribute("tabindex", "0");
      mark.addEventListener("click", function () { showFindings(mark); });
      mark.addEventListener("keydown", function (e) { if (e.key === "Enter") showFindings(mark); });
    });
    var toggle = document.getElementById("toggle-first-pass");
    var pane = document.querySelector(".doc-pane");
    if (toggle && pane) {
      var apply = function () { pane.classList.toggle("show-first-pass", toggle.checked); };
      toggle.addEventListener("change", apply);
      apply();
    }
    document.addEventListener("keydown", function (e) {
      var tag = (e.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "textarea" || tag === "select" || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "j" || e.key === "ArrowDown" && e.shiftKey) { e.preventDefault(); move(1); }
      else if (e.key === "k" || e.key === "ArrowUp" && e.shiftKey) { e.preventDefault(); move(-1); }
    });
    // Arrived from a passage whose finding was on another findings page: select it.
    if (location.hash.indexOf("#finding-") === 0) {
      var arrived = document.getElementById(location.hash.slice(1));
      if (arrived && arrived.classList.contains("finding")) { selectFinding(arrived, true); flash(arrived); }
    }
    // Arrived from a link to a passage in another window of pages: show it.
    if (location.hash.indexOf("#passage-") === 0) {
      var key = location.hash.slice("#passage-".length);
      var target = document.querySelector('a.to-passage[data-key="' + key + '"]');
      if (target) showPassage(target, null);
    }
  });
})();
