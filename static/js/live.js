// Keeps document states on the page current without a reload. It polls a small JSON endpoint
// while anything is still in progress, and writes only with textContent: nothing a server or a
// document says is ever parsed as HTML.
(function () {
  "use strict";
  var POLL_MS = 1500;

  function applyState(row, doc) {
    row.querySelectorAll("[data-field]").forEach(function (el) {
      var field = el.getAttribute("data-field");
      if (field === "status_label") {
        el.textContent = doc.status_label;
        el.className = "badge status-" + doc.status;
      } else if (field === "progress") {
        el.value = doc.progress;
        el.textContent = doc.progress + "%";
        el.hidden = doc.terminal;
      } else if (field === "progress_text") {
        el.textContent = doc.terminal ? "" : doc.progress + "%";
      } else if (field === "stage") {
        el.textContent = doc.terminal ? "" : doc.stage;
      } else if (field === "error") {
        el.textContent = doc.error || "";
      } else if (field === "kind") {
        el.textContent = doc.kind;
      } else if (field === "page_count") {
        el.textContent = doc.page_count === null ? "" : String(doc.page_count);
      }
    });
    // Answers still being written (follow-up questions): each into its own element, as text.
    if (doc.answers) {
      Object.keys(doc.answers).forEach(function (id) {
        var el = row.querySelector('[data-answer-for="' + CSS.escape(id) + '"]');
        if (el) el.textContent = doc.answers[id];
      });
    }
    row.setAttribute("data-status", doc.status);
  }

  function watch(container) {
    var url = container.getAttribute("data-status-url");
    var single = container.hasAttribute("data-doc-id") && container.tagName !== "TABLE";
    // data-pending: the server rendered this as still in progress, so finishing even before the first poll
    // must reload the page.
    var wasTerminal = container.hasAttribute("data-pending") ? false : null;

    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) {
          var docs = single ? [data] : data.documents;
          var pending = false;
          docs.forEach(function (doc) {
            var row = single ? container : container.querySelector('[data-doc-id="' + doc.id + '"]');
            if (row) applyState(row, doc);
            if (!doc.terminal) pending = true;
          });
          if (single && wasTerminal === false && data.terminal && container.hasAttribute("data-reload-when-done")) {
            window.location.reload();  // the finished page shows the report link and facts
            return;
          }
          wasTerminal = single ? data.terminal : !pending;
          container.setAttribute("data-live", pending ? "polling" : "idle");
          setTimeout(tick, pending ? POLL_MS : POLL_MS * 4);
        })
        .catch(function () { setTimeout(tick, POLL_MS * 4); });
    }
    tick();
  }

  // Forms that ask before they act: <form data-confirm="question">. An attribute, not an inline
  // handler, because the content security policy allows no inline script.
  function confirmBeforeSubmit(form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-status-url]").forEach(watch);
    document.querySelectorAll("form[data-confirm]").forEach(confirmBeforeSubmit);
  });
})();
