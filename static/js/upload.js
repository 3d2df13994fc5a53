// Uploads each chosen or dropped file in its own request so each gets its own progress bar.
// The server decides what a file is from its bytes; the size check here only saves a pointless
// transfer. Without JavaScript the plain form still posts all files at once.
(function () {
  "use strict";

  function csrfToken(form) {
    var input = form.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  function humanSize(n) {
    return n >= 1048576 ? (n / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(n / 1024)) + " KB";
  }

  function addDocumentRow(result, fileName) {
    var table = document.getElementById("documents");
    if (!table || !result.url) return;
    var empty = table.querySelector(".empty-row");
    if (empty) empty.remove();
    var id = result.url.split("/").filter(Boolean).pop();
    if (table.querySelector('[data-doc-id="' + id + '"]')) return;
    var tr = document.createElement("tr");
    tr.setAttribute("data-doc-id", id);
    tr.setAttribute("data-status", "queued");
    var nameCell = document.createElement("td");
    var link = document.createElement("a");
    link.href = result.url;
    link.className = "doc-name";
    link.textContent = result.name;
    nameCell.appendChild(link);
    var kindCell = document.createElement("td");
    kindCell.setAttribute("data-field", "kind");
    var stateCell = document.createElement("td");
    stateCell.className = "doc-state";
    var badge = document.createElement("span");
    badge.className = "badge status-queued";
    badge.setAttribute("data-field", "status_label");
    badge.textContent = "Queued";
    var bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    bar.setAttribute("data-field", "progress");
    var stage = document.createElement("span");
    stage.className = "stage muted";
    stage.setAttribute("data-field", "stage");
    var err = document.createElement("span");
    err.className = "error";
    err.setAttribute("data-field", "error");
    stateCell.append(badge, " ", bar, " ", stage, " ", err);
    var pages = document.createElement("td");
    pages.setAttribute("data-field", "page_count");
    var when = document.createElement("td");
    when.className = "muted";
    when.textContent = "just now";
    var tokens = document.createElement("td");
    tokens.className = "tokens";
    tr.append(nameCell, kindCell, stateCell, pages, tokens, when, document.createElement("td"));
    table.querySelector("tbody").prepend(tr);
  }

  function uploadOne(zone, file) {
    var list = document.getElementById("upload-list");
    var form = document.getElementById("upload-form");
    var li = document.createElement("li");
    li.className = "upload-item";
    var name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = file.name + " (" + humanSize(file.size) + ")";
    var bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    var note = document.createElement("span");
    note.className = "upload-note";
    note.textContent = "Waiting…";
    li.append(name, " ", bar, " ", note);
    list.prepend(li);

    var max = parseInt(zone.getAttribute("data-max-bytes"), 10);
    if (max && file.size > max) {
      bar.hidden = true;
      li.classList.add("rejected");
      note.textContent = "Larger than the " + humanSize(max) + " limit; not uploaded.";
      return;
    }

    var body = new FormData();
    body.append("files", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", zone.getAttribute("data-upload-url"));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", csrfToken(form));
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        bar.value = Math.round((e.loaded / e.total) * 100);
        note.textContent = "Uploading " + bar.value + "%";
      }
    };
    xhr.onload = function () {
      bar.value = 100;
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      var result = data && data.results && data.results[0];
      if (!result) {
        li.classList.add("rejected");
        note.textContent = xhr.status === 403 ? "You may not upload here." : "Upload failed (" + xhr.status + ").";
        return;
      }
      li.classList.add(result.outcome);
      bar.hidden = result.outcome === "rejected";
      note.textContent = result.message;
      if (result.outcome === "stored") addDocumentRow(result, file.name);
    };
    xhr.onerror = function () {
      li.classList.add("rejected");
      note.textContent = "Network error; the file was not uploaded.";
    };
    xhr.send(body);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var zone = document.getElementById("upload");
    if (!zone) return;
    var drop = document.getElementById("dropzone");
    var input = document.getElementById("upload-input");
    function handle(files) { Array.prototype.forEach.call(files, function (f) { uploadOne(zone, f); }); }
    input.addEventListener("change", function () { handle(input.files); input.value = ""; });
    ["dragenter", "dragover"].forEach(function (ev) {
      drop.addEventListener(ev, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (ev) {
      drop.addEventListener(ev, function (e) { e.preventDefault(); drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (e) { handle(e.dataTransfer.files); });
  });
})();
