/* Every page: a table wider than its box scrolls inside it (keyboard-reachable, named),
   so the page itself never scrolls sideways on a phone. Loaded from base.html; no inline script. */
(function () {
  "use strict";
  function label(table) {
    if (table.caption) return table.caption.textContent.trim();
    var box = table.closest("section, .card");
    var heading = box && box.querySelector("h1, h2, h3");
    return heading ? heading.textContent.trim() : "Table";
  }
  function fit() {
    Array.prototype.forEach.call(document.querySelectorAll("main table"), function (table) {
      var wrap = table.parentElement;
      if (!wrap.classList.contains("table-scroll")) {
        wrap = document.createElement("div");
        wrap.className = "table-scroll";
        table.parentNode.insertBefore(wrap, table);
        wrap.appendChild(table);
      }
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        wrap.tabIndex = 0;
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", label(table));
      } else {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("aria-label");
      }
    });
  }
  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(fit, 150);
  });
  window.siteFitTables = fit;
  fit();
})();
