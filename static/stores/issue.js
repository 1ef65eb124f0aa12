/* Issue page: passport MRZ scan, add/remove goods lines, live eligibility and estimate.
   Plain script, no framework: the server does every rule (stores/preview.py). */
(function () {
  "use strict";
  var form = document.getElementById("issue-form");
  if (!form) return;
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var body = document.getElementById("lines-body");
  var template = document.getElementById("line-template");
  var total = form.querySelector("input[name=lines-TOTAL_FORMS]");
  var mrz = form.querySelector("textarea[name=mrz]");
  var mrzStatus = document.getElementById("mrz-status");
  var checks = document.getElementById("checks");
  var button = document.getElementById("issue-button");

  function post(url, data) {
    return fetch(url, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Accept": "application/json" }
    }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function text(el, value) { if (el) el.textContent = value; }

  /* "3600.00" -> "3,600.00": amounts arrive as exact decimal strings. */
  function money(value) {
    var parts = String(value).split(".");
    return parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (parts.length > 1 ? "." + parts[1] : "");
  }

  function el(tag, cls, content) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (content) node.textContent = content;
    return node;
  }

  /* --- goods lines --------------------------------------------------------- */
  function rows() { return Array.prototype.slice.call(body.querySelectorAll("tr[data-line]")); }

  function renumber() {
    rows().forEach(function (row, i) {
      text(row.querySelector("[data-line-no]"), String(i + 1));
      row.querySelectorAll("input, select").forEach(function (input) {
        ["name", "id"].forEach(function (attr) {
          var v = input.getAttribute(attr);
          if (v) input.setAttribute(attr, v.replace(/lines-(\d+|__prefix__)-/, "lines-" + i + "-"));
        });
      });
    });
    total.value = String(rows().length);
  }

  function addLine(focus) {
    var index = rows().length;
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    var holder = document.createElement("tbody");
    holder.innerHTML = html.trim();
    var row = holder.querySelector("tr");
    body.appendChild(row);
    renumber();
    if (focus) row.querySelector("input").focus();
    return row;
  }

  function removeLine(row) {
    var next = row.nextElementSibling;
    if (next && next.classList.contains("row-errors")) next.remove();
    if (rows().length === 1) {
      row.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      row.querySelector("input").focus();
    } else {
      var focusTarget = row.previousElementSibling || row.nextElementSibling;
      row.remove();
      if (focusTarget) {
        var b = focusTarget.querySelector("[data-remove-line]") || focusTarget.querySelector("input");
        if (b) b.focus();
      }
    }
    renumber();
    schedule();
  }

  document.getElementById("add-line").addEventListener("click", function () { addLine(true); });
  body.addEventListener("click", function (e) {
    var b = e.target.closest("[data-remove-line]");
    if (b) removeLine(b.closest("tr"));
  });

  /* Enter never submits by accident (scanners end with Enter): in a goods line it
     adds the next line, elsewhere it moves on like Tab. Only the button issues. */
  form.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.target.tagName === "TEXTAREA" || e.target.tagName === "BUTTON") return;
    if (e.target.type === "submit" || e.target.type === "checkbox") return;
    e.preventDefault();
    var row = e.target.closest("tr[data-line]");
    if (row) {
      var inputs = Array.prototype.slice.call(row.querySelectorAll("input, select"));
      var at = inputs.indexOf(e.target);
      if (at < inputs.length - 1) { inputs[at + 1].focus(); return; }
      var nextRow = row.nextElementSibling;
      while (nextRow && !nextRow.hasAttribute("data-line")) nextRow = nextRow.nextElementSibling;
      if (nextRow) nextRow.querySelector("input").focus(); else addLine(true);
      return;
    }
    var focusables = Array.prototype.slice.call(form.querySelectorAll("input:not([type=hidden]), select, textarea, button"));
    var i = focusables.indexOf(e.target);
    if (i >= 0 && focusables[i + 1]) focusables[i + 1].focus();
  });

  /* --- passport MRZ ------------------------------------------------------- */
  function mrzLines(value) {
    return value.toUpperCase().split(/\r?\n/).map(function (l) { return l.replace(/\s+/g, ""); })
      .filter(function (l) { return l.length; });
  }

  function mrzComplete(value) {
    var lines = mrzLines(value);
    var lens = lines.map(function (l) { return l.length; }).join(",");
    if (lens === "44,44" || lens === "30,30,30" || lens === "36,36") return true;
    if (lines.length === 1 && [88, 90, 72].indexOf(lines[0].length) >= 0) return true;
    return /\n\s*$/.test(value) && lines.length >= 2;  // the scanner's final Enter
  }

  function setField(name, value) {
    var input = form.querySelector("[name=" + name + "]");
    if (input && value) { input.value = value; input.dispatchEvent(new Event("change", { bubbles: true })); }
  }

  var lastMrz = "";
  function readMrz() {
    var value = mrz.value;
    if (!value.trim() || value === lastMrz || !mrzComplete(value)) return;
    lastMrz = value;
    var data = new FormData();
    data.append("mrz", value);
    mrzStatus.className = "mrz-status";
    text(mrzStatus, "Reading… · 识别中");
    post(form.dataset.mrzUrl, data).then(function (r) {
      if (!r.ok) {
        mrzStatus.className = "mrz-status bad";
        text(mrzStatus, r.message);
        return;
      }
      setField("name", r.name);
      setField("document_number", r.document_number);
      setField("document_type", r.document_type);
      setField("nationality", r.nationality);
      setField("document_expires_on", r.expiry_date);
      var msg = r.message + (r.nationality_label ? " " + r.nationality_label + "." : "");
      if (r.warnings && r.warnings.length) {
        mrzStatus.className = "mrz-status warn";
        msg += " " + r.warnings.join(" ");
      } else {
        mrzStatus.className = "mrz-status ok";
      }
      text(mrzStatus, msg + " Now enter the last entry date · 请填写最后入境日期");
      var entry = form.querySelector("[name=last_entry_date]");
      if (entry && !entry.value && document.activeElement === mrz) entry.focus();
      schedule();
    }).catch(function () {
      mrzStatus.className = "mrz-status bad";
      text(mrzStatus, "Could not read the scan (network). Type the fields instead.");
    });
  }
  if (mrz) {
    /* A scanner ends with Enter: read then. Without one, read once typing pauses. */
    var mrzTimer = null;
    mrz.addEventListener("input", function () { clearTimeout(mrzTimer); mrzTimer = setTimeout(readMrz, 400); });
    mrz.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { clearTimeout(mrzTimer); setTimeout(readMrz, 0); }
    });
  }

  /* --- live estimate ------------------------------------------------------ */
  var timer = null, seq = 0;
  function schedule() { clearTimeout(timer); timer = setTimeout(refresh, 250); }

  function renderChecks(messages) {
    checks.innerHTML = "";
    messages.forEach(function (m) {
      var li = el("li", m.level);
      li.dataset.code = m.code;
      li.appendChild(el("span", "title", m.title));
      if (m.detail) li.appendChild(el("span", "detail", m.detail));
      checks.appendChild(li);
    });
  }

  function renderLines(r) {
    var list = rows();
    list.forEach(function (row) { text(row.querySelector("[data-line-total]"), "—"); row.classList.remove("has-error"); row.title = ""; });
    r.lines.forEach(function (line) {
      var row = list[line.index];
      if (!row) return;
      var cell = row.querySelector("[data-line-total]");
      text(cell, money(line.total));
      cell.title = "excl. VAT " + line.amount + " + VAT " + line.vat + (line.refund_rate ? " · refund rate " + line.refund_rate : " · no refund rate");
    });
    Object.keys(r.line_errors || {}).forEach(function (index) {
      var row = list[Number(index)];
      if (row) { row.classList.add("has-error"); row.title = r.line_errors[index].join(" "); }
    });
  }

  function renderInvoices(r) {
    var ul = document.getElementById("invoice-found");
    if (!ul) return;
    ul.innerHTML = "";
    r.invoices.forEach(function (inv) {
      var li = inv.found
        ? el("li", "", inv.number + " · " + inv.issued_on + " · RMB " + money(inv.total))
        : el("li", "missing", inv.number + " · not found at this store · 本店无此发票");
      ul.appendChild(li);
    });
  }

  function renderFieldErrors(errors) {
    form.querySelectorAll("[data-error-for]").forEach(function (span) {
      // The server's error after a submit stays until that field is edited: shown once.
      if (span.hasAttribute("data-server")) return;
      var errs = (errors || {})[span.dataset.errorFor];
      span.hidden = !errs;
      text(span, errs ? errs.join(" ") : "");
    });
  }

  function refresh() {
    var mine = ++seq;
    post(form.dataset.estimateUrl, new FormData(form)).then(function (r) {
      if (mine !== seq) return;  // a newer request is on its way
      renderChecks(r.messages);
      renderLines(r);
      renderInvoices(r);
      renderFieldErrors(r.field_errors);
      ["total", "refundable_vat", "fee", "net_refund"].forEach(function (k) {
        text(form.querySelector("[data-est=" + k + "]"), money(r[k]));
      });
      text(form.querySelector("[data-est=fee_rate]"), r.fee_rate ? "(" + r.fee_rate + ")" : "");
      form.classList.toggle("is-eligible", !!r.eligible);
    }).catch(function () {
      if (mine !== seq) return;
      renderChecks([{ level: "pending", code: "offline", title: "Estimate unavailable · 暂无法估算", detail: "The form can still be issued; the server checks every rule." }]);
    });
  }

  form.addEventListener("input", function (e) {
    var own = e.target.name && form.querySelector('[data-error-for="' + e.target.name + '"]');
    if (own) own.removeAttribute("data-server");
    if (e.target !== mrz) schedule();
  });
  form.addEventListener("change", function (e) { if (e.target !== mrz) schedule(); });

  form.addEventListener("submit", function () {
    button.disabled = true;
    text(button, "Issuing… · 开单中");
  });
  var buttonLabel = button.textContent;
  window.addEventListener("pageshow", function () { button.disabled = false; text(button, buttonLabel); });

  renumber();
  refresh();
})();
