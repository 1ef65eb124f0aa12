// Refund counter: show the account input of the chosen payout method and make the
// pay button single-shot. The server is the guard (one payment per page token);
// this only spares the agent a second click.
(function () {
  "use strict";
  // After a refused scan the code stays visible but selected: the next scan replaces it.
  var scan = document.getElementById("id_qr");
  if (scan && scan.value) scan.select();

  var form = document.getElementById("pay-form");
  if (!form) return;
  var radios = form.querySelectorAll("input[name=payout_method]");
  var accounts = form.querySelectorAll(".account");
  var button = document.getElementById("pay-button");

  function sync() {
    var chosen = form.querySelector("input[name=payout_method]:checked");
    var field = chosen ? chosen.getAttribute("data-account") : null;
    accounts.forEach(function (box) {
      var show = box.getAttribute("data-for") === field;
      box.hidden = !show;
      box.querySelector("input").required = show;
    });
    if (chosen && field) {
      var input = form.querySelector(".account[data-for=" + field + "] input");
      if (input && document.activeElement && document.activeElement.name === "payout_method") input.focus();
    }
  }
  radios.forEach(function (r) { r.addEventListener("change", sync); });
  sync();

  form.addEventListener("submit", function (event) {
    if (form.getAttribute("data-submitted")) { event.preventDefault(); return; }
    form.setAttribute("data-submitted", "1");
    button.disabled = true;
    button.textContent = "Paying… 支付中";
  });
  // Back/forward cache: a page restored after paying must not stay disabled.
  window.addEventListener("pageshow", function () {
    form.removeAttribute("data-submitted");
    button.disabled = false;
  });
})();
