/* Kiosk: scan or type, look up, show the result; back to the start when idle. */
(function () {
  "use strict";
  var root = document.getElementById("kiosk");
  if (!root) return;
  var t = JSON.parse(document.getElementById("kiosk-strings").textContent);
  var lang = root.dataset.lang;
  var startUrl = root.dataset.startUrl;
  var idleSeconds = parseInt(root.dataset.idleSeconds, 10) || 60;
  var warningSeconds = parseInt(root.dataset.warningSeconds, 10) || 10;

  var formEl = document.getElementById("kiosk-lookup");
  var numberEl = document.getElementById("kiosk-form-number");
  var docEl = document.getElementById("kiosk-document");
  var errorEl = document.getElementById("kiosk-error");
  var submitEl = document.getElementById("kiosk-submit");
  var startEl = document.getElementById("kiosk-start");
  var resultEl = document.getElementById("kiosk-result");
  var idleEl = document.getElementById("kiosk-idle");
  var lastFocused = numberEl;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
  }
  var locale = { "zh-hans": "zh-CN", "zh-hant": "zh-TW", "ar": "ar-u-nu-latn" }[lang] || lang;
  var number = new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  // Amounts arrive as 2-place strings; grouped the way the language writes numbers.
  function money(amount) { return fill(t.money, { amount: number.format(Number(amount)) }); }
  function looksComplete(value) {
    var v = value.replace(/\s+/g, "").toUpperCase();
    return /^\d{16}$/.test(v) || (v.length === 147 && v.indexOf("RF1") === 0);
  }
  function showError(message) {
    errorEl.textContent = message;
    errorEl.hidden = !message;
  }

  // A keyboard-wedge scanner types the QR payload and Enter: move on to the document.
  numberEl.addEventListener("keydown", function (e) {
    if (e.key === "Enter") {
      e.preventDefault();
      if (looksComplete(numberEl.value)) docEl.focus();
    }
  });
  // A scan that lands in the document box (the traveler touched it first) belongs above.
  docEl.addEventListener("keydown", function (e) {
    var v = docEl.value.replace(/\s+/g, "").toUpperCase();
    if (e.key === "Enter" && v.indexOf("RF1") === 0 && looksComplete(v)) {
      e.preventDefault();
      numberEl.value = v;
      docEl.value = "";
    }
  });
  numberEl.addEventListener("focus", function () { lastFocused = numberEl; });
  docEl.addEventListener("focus", function () { lastFocused = docEl; });

  // On-screen pad types into the last focused field.
  Array.prototype.forEach.call(document.querySelectorAll(".kiosk-key"), function (key) {
    key.addEventListener("click", function () {
      var field = lastFocused;
      var k = key.dataset.key;
      if (k === "back") field.value = field.value.slice(0, -1);
      else if (k === "clear") field.value = "";
      else field.value += k;
      field.focus();
    });
  });

  function render(data) {
    var status = document.getElementById("kiosk-status");
    status.textContent = data.status_text;
    status.className = "kiosk-status badge " + data.status;
    document.getElementById("kiosk-total").textContent = money(data.total);
    document.getElementById("kiosk-net").textContent = money(data.net_refund);
    var next = document.getElementById("kiosk-next-step");
    next.textContent = data.next_step.text;
    next.className = "kiosk-step step-" + data.next_step.code;

    var payout = document.getElementById("kiosk-payout");
    payout.innerHTML = "";
    data.payout_options.forEach(function (o) {
      var li = document.createElement("li");
      li.className = o.allowed ? "allowed" : "not-allowed";
      li.dataset.method = o.method;
      var name = document.createElement("strong");
      name.textContent = (o.allowed ? "✓ " : "✕ ") + o.name;
      li.appendChild(name);
      if (!o.allowed) {
        var why = document.createElement("span");
        why.textContent = o.reason || t.not_available;
        li.appendChild(why);
      }
      payout.appendChild(li);
    });
    document.getElementById("kiosk-payout-block").hidden = data.payout_options.length === 0;

    var timeline = document.getElementById("kiosk-timeline");
    timeline.innerHTML = "";
    var fmt = new Intl.DateTimeFormat(locale,
      { dateStyle: "medium", timeStyle: "short", timeZone: "Asia/Shanghai" });
    data.timeline.forEach(function (ev) {
      var li = document.createElement("li");
      var when = document.createElement("time");
      when.dateTime = ev.at;
      when.textContent = fmt.format(new Date(ev.at));
      var what = document.createElement("span");
      what.textContent = ev.text;
      li.appendChild(when);
      li.appendChild(what);
      timeline.appendChild(li);
    });
    resultEl.dataset.status = data.status;
    startEl.hidden = true;
    resultEl.hidden = false;
    window.scrollTo(0, 0);
    // Keyboard and screen-reader users land on the result, not on <body>.
    status.focus();
  }

  formEl.addEventListener("submit", function (e) {
    e.preventDefault();
    showError("");
    if (!numberEl.value.trim()) { numberEl.focus(); return; }
    if (!docEl.value.trim()) { docEl.focus(); return; }
    submitEl.disabled = true;
    submitEl.textContent = t.searching;
    fetch(root.dataset.lookupUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ form: numberEl.value, document_number: docEl.value, lang: lang }),
      credentials: "omit",
    }).then(function (response) {
      if (response.ok) return response.json().then(render);
      if (response.status === 429) {
        return response.json().then(function (body) {
          showError(body && body.code === "form_locked" ? t.form_locked : t.throttled);
        }, function () { showError(t.throttled); });
      }
      else if (response.status === 404) showError(t.not_found);
      else showError(t.network_error);
    }).catch(function () {
      showError(t.network_error);
    }).then(function () {
      submitEl.disabled = false;
      submitEl.textContent = t.lookup;
    });
  });

  document.getElementById("kiosk-restart").addEventListener("click", function () {
    window.location.assign(startUrl + "?lang=" + encodeURIComponent(lang));
  });

  // Idle: after idleSeconds without a touch or key, back to the start (default language);
  // the last warningSeconds count down on screen.
  var lastActivity = Date.now();
  function activity() {
    lastActivity = Date.now();
    idleEl.hidden = true;
  }
  ["pointerdown", "touchstart", "keydown", "input"].forEach(function (name) {
    document.addEventListener(name, activity, { passive: true, capture: true });
  });
  function pristine() {
    // The start screen as the idle reset leaves it: nothing to clear, no reload loop.
    return lang === root.dataset.defaultLang && !startEl.hidden && !numberEl.value &&
      !docEl.value && errorEl.hidden;
  }
  setInterval(function () {
    if (pristine()) { activity(); return; }
    var left = Math.ceil(idleSeconds - (Date.now() - lastActivity) / 1000);
    if (left <= 0) {
      window.location.assign(startUrl);
    } else if (left <= warningSeconds) {
      idleEl.textContent = fill(t.idle_warning, { seconds: String(left) });
      idleEl.hidden = false;
    }
  }, 250);
})();
