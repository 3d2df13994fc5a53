// The workspace table's review dialog: one form for every finding cell, pointed at the clicked cell. Nothing the
// page shows is read back as HTML; only the form's action and state are set.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var dialog = document.getElementById("cell-review");
    if (!dialog) return;
    var form = dialog.querySelector("form");
    document.querySelectorAll(".cell-review-open").forEach(function (button) {
      button.addEventListener("click", function () {
        form.setAttribute("action", button.getAttribute("data-url"));
        form.querySelector("select[name=state]").value = button.getAttribute("data-state");
        form.querySelector("textarea[name=comment]").value = "";
        dialog.showModal();
      });
    });
  });
})();
