// Buy & Refund prepayment: one click places one hold. The server spends a one-time
// page token too; this only stops the second click from being sent at all.
(function () {
  "use strict";
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent === "1") {
        event.preventDefault();
        return;
      }
      form.dataset.sent = "1";
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        button.setAttribute("aria-busy", "true");
        button.classList.add("disabled");
      });
    });
  });
  // Choosing a sandbox terminal token clears a typed one (the typed one wins on the server).
  var choice = document.getElementById("id_card_token_choice");
  var typed = document.getElementById("id_card_token");
  if (choice && typed) {
    choice.addEventListener("change", function () {
      if (choice.value) typed.value = "";
    });
  }
})();
