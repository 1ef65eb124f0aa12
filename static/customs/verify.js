// Officer form page: live verified total and projected result as quantities change;
// Esc goes back to the scan box. The server recomputes everything on submit.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      window.location.href = "/customs/";
    }
  });
  var form = document.getElementById("verify-form");
  if (!form) {
    return;
  }
  var inputs = Array.prototype.slice.call(form.querySelectorAll("input.qty"));
  var totalCell = document.getElementById("verified-total");
  var projected = document.getElementById("projected");
  var matches = form.querySelector("input[name=traveler_matches]");

  function cents(text) {
    var n = Number(text);
    return Number.isFinite(n) ? Math.round(n * 100) : NaN;
  }
  function money(c) {
    var sign = c < 0 ? "-" : "";
    c = Math.abs(c);
    var yuan = Math.floor(c / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return sign + yuan + "." + String(c % 100).padStart(2, "0");
  }
  function refresh() {
    var sum = 0;
    var all = true;
    var bad = false;
    inputs.forEach(function (input) {
      var qty = input.value === "" ? NaN : Number(input.value);
      var purchased = Number(input.dataset.purchased);
      var cell = input.closest("tr").querySelector(".line-total");
      var over = !Number.isFinite(qty) || qty < 0 || qty > purchased;
      input.classList.toggle("over", over);
      bad = bad || over;
      var lineCents = 0;
      if (!over) {
        lineCents = qty === purchased ? cents(input.dataset.total) : Math.round(qty * cents(input.dataset.unitPrice));
      }
      if (qty !== purchased) {
        all = false;
      }
      cell.textContent = over ? "—" : money(lineCents);
      cell.classList.toggle("short", !over && qty < purchased);
      sum += lineCents;
    });
    var ok = !matches || matches.checked;
    totalCell.textContent = ok && !bad ? money(sum) : money(0);
    if (bad) {
      projected.textContent = "check quantities";
    } else if (!ok || sum === 0) {
      projected.textContent = "rejected";
    } else {
      projected.textContent = all ? "verified" : "partially verified";
    }
  }
  inputs.forEach(function (input) {
    input.addEventListener("input", refresh);
    input.addEventListener("focus", function () { input.select(); });
  });
  if (matches) {
    matches.addEventListener("change", refresh);
  }
  refresh();
})();
