/* Kiosk: scan (wedge scanner or camera) or type on the on-screen keyboard, look up, show the
   form, its trip, how it was paid; green lane on a registered device; pre-chosen transfer;
   back to the start when idle. */
(function () {
  "use strict";
  var root = document.getElementById("kiosk");
  if (!root) return;
  var t = JSON.parse(document.getElementById("kiosk-strings").textContent);
  var lang = root.dataset.lang;
  var startUrl = root.dataset.startUrl;
  var idleSeconds = parseInt(root.dataset.idleSeconds, 10) || 60;
  var warningSeconds = parseInt(root.dataset.warningSeconds, 10) || 10;
  var DEVICE_STORAGE = "kiosk-device-key";
  function $(id) { return document.getElementById(id); }

  var formEl = $("kiosk-lookup");
  var numberEl = $("kiosk-form-number");
  var docEl = $("kiosk-document");
  var errorEl = $("kiosk-error");
  var submitEl = $("kiosk-submit");
  var startEl = $("kiosk-start");
  var resultEl = $("kiosk-result");
  var idleEl = $("kiosk-idle");
  var keyboard = $("kiosk-keyboard");
  var lastFocused = numberEl;
  var lookedUp = null;   // {form, qr, document}: what the traveler presented
  var device = null;     // {key, name, port} once the stored device key is confirmed

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (m, k) { return k in values ? values[k] : m; });
  }
  var locale = { "zh-hans": "zh-CN", "zh-hant": "zh-TW", "ar": "ar-u-nu-latn" }[lang] || lang;
  var number = new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var dateFmt = new Intl.DateTimeFormat(locale,
    { dateStyle: "medium", timeStyle: "short", timeZone: "Asia/Shanghai" });
  // Amounts arrive as 2-place strings; grouped the way the language writes numbers.
  function money(amount) { return fill(t.money, { amount: number.format(Number(amount)) }); }
  function compact(value) { return value.replace(/\s+/g, "").toUpperCase(); }
  function isQr(v) { return v.length === 147 && v.indexOf("RF1") === 0; }
  function looksComplete(value) { var v = compact(value); return /^\d{16}$/.test(v) || isQr(v); }
  function showError(message) { errorEl.textContent = message; errorEl.hidden = !message; }
  function fieldError(el, errEl, message) {
    errEl.textContent = message || "";
    errEl.hidden = !message;
    if (message) el.setAttribute("aria-invalid", "true"); else el.removeAttribute("aria-invalid");
  }

  // Luhn over the 16 digits (the last is the check digit), as the server checks it.
  function luhnOk(digits) {
    var sum = 0;
    for (var i = 0; i < digits.length; i++) {
      var d = +digits[digits.length - 1 - i];
      if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
      sum += d;
    }
    return sum % 10 === 0;
  }
  // The same checks as the server's (kiosk.selectors.lookup_field_errors), said at once.
  function formProblem(value) {
    var v = compact(value);
    if (!v) return t.err_form_empty;
    if (v.indexOf("RF1") === 0) return isQr(v) && /^[A-Z2-7]+$/.test(v.slice(19)) ? "" : t.err_qr_incomplete;
    if (!/^\d{16}$/.test(v)) return t.err_form_malformed;
    return luhnOk(v) ? "" : t.err_form_check;
  }
  function documentProblem(value) {
    var v = value.replace(/[\s-]+/g, "").toUpperCase();
    if (!v) return t.err_document_empty;
    return /^[A-Z0-9]{5,20}$/.test(v) ? "" : t.err_document_malformed;
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
    var v = compact(docEl.value);
    if (e.key === "Enter" && v.indexOf("RF1") === 0 && looksComplete(v)) {
      e.preventDefault();
      numberEl.value = v;
      docEl.value = "";
    }
  });

  // The on-screen keyboard types into the last focused field; it follows the field into
  // the pre-choice form, where the account keys (@ . - _ +) appear.
  var fields = [numberEl, docEl, $("kiosk-account"), $("kiosk-email")];
  fields.forEach(function (field) {
    field.addEventListener("focus", function () {
      lastFocused = field;
      var account = field.classList.contains("kiosk-account-field");
      keyboard.querySelector(".kiosk-account-keys").hidden = !account;
      var home = account ? $("kiosk-choice-keyboard") : $("kiosk-error").parentNode;
      if (keyboard.parentNode !== home) {
        if (account) home.appendChild(keyboard); else home.insertBefore(keyboard, $("kiosk-error"));
      }
    });
  });
  keyboard.addEventListener("click", function (e) {
    var key = e.target.closest(".kiosk-key");
    if (!key) return;
    var field = lastFocused;
    var k = key.dataset.key;
    if (k === "back") field.value = field.value.slice(0, -1);
    else if (k === "clear") field.value = "";
    else if (k === "next") {
      var visible = fields.filter(function (f) { return f.offsetParent !== null; });
      var next = visible[(visible.indexOf(field) + 1) % visible.length];
      next.focus();
      return;
    } else if (field.value.length < (field.maxLength > 0 ? field.maxLength : 200)) field.value += k;
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.focus();
  });
  // A message goes away as soon as the traveler corrects the field.
  numberEl.addEventListener("input", function () { fieldError(numberEl, $("kiosk-form-error"), ""); });
  docEl.addEventListener("input", function () { fieldError(docEl, $("kiosk-document-error"), ""); });

  // Camera: where the browser offers BarcodeDetector with QR support (the wedge scanner stays).
  var cameraBtn = $("kiosk-camera");
  var cameraView = $("kiosk-camera-view");
  var video = $("kiosk-video");
  var stream = null;
  function stopCamera() {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    cameraView.hidden = true;
  }
  if ("BarcodeDetector" in window && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (formats.indexOf("qr_code") === -1) return;
      cameraBtn.hidden = false;
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      cameraBtn.addEventListener("click", function () {
        showError("");
        navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (s) {
          stream = s;
          video.srcObject = s;
          cameraView.hidden = false;
          var play = video.play();
          if (play && play.catch) play.catch(function () {});
          (function scan() {
            if (!stream) return;
            detector.detect(video).then(function (codes) {
              var hit = codes.filter(function (c) { return looksComplete(c.rawValue || ""); })[0];
              if (hit) {
                numberEl.value = compact(hit.rawValue);
                fieldError(numberEl, $("kiosk-form-error"), "");
                stopCamera();
                docEl.focus();
              } else setTimeout(scan, 200);
            }, function () { setTimeout(scan, 400); });
          })();
        }, function () { showError(t.camera_unavailable); });
      });
      $("kiosk-camera-stop").addEventListener("click", stopCamera);
    }, function () {});
  }

  function text(el, value) { el.textContent = value; }
  function renderPayment(payment, net) {
    var box = $("kiosk-payment");
    box.hidden = !payment;
    if (!payment) return;
    text($("kiosk-paid-method"), payment.method_text);
    text($("kiosk-paid-account"), payment.account);
    $("kiosk-paid-account-row").hidden = !payment.account;
    text($("kiosk-paid-amount"), money(payment.amount || net));
    text($("kiosk-paid-estimate"), money(payment.estimate));
    text($("kiosk-paid-at"), payment.paid_at ? dateFmt.format(new Date(payment.paid_at)) : "");
    text($("kiosk-paid-why"), payment.difference.text);
    $("kiosk-paid-why").hidden = !payment.difference.text;
  }
  function renderTrip(data) {
    var rows = $("kiosk-trip-rows");
    rows.innerHTML = "";
    [data].concat(data.trip).forEach(function (f, i) {
      var tr = document.createElement("tr");
      tr.dataset.form = f.form;
      if (i === 0) tr.className = "current";
      [f.form, f.status_text, money(f.net_refund), f.next_step.text].forEach(function (value, col) {
        var td = document.createElement("td");
        td.textContent = value;
        if (col === 0) {
          td.className = "mono";
          if (i === 0) {
            var small = document.createElement("small");
            small.textContent = " (" + t.trip_this_form + ")";
            td.appendChild(small);
          }
        }
        if (col === 2) td.className = "kiosk-money";
        tr.appendChild(td);
      });
      rows.appendChild(tr);
    });
    $("kiosk-trip").hidden = data.trip.length === 0;
  }
  function renderGreenLane(data) {
    var box = $("kiosk-green-lane");
    box.hidden = !(device && data.green_lane);
    $("kiosk-green-lane-go").hidden = false;
    var msg = $("kiosk-green-lane-msg");
    msg.hidden = true;
    if (!box.hidden && !isQr(lookedUp.qr)) {
      $("kiosk-green-lane-go").hidden = true;
      msg.textContent = t.green_lane_needs_qr;
      msg.className = "kiosk-step step-red_lane";
      msg.hidden = false;
    }
  }
  function renderChoice(data) {
    var box = $("kiosk-choice");
    var open = ["issued", "verified", "partially_verified"].indexOf(data.status) !== -1 &&
      data.payout_options.some(function (o) { return o.method !== "cash" && o.allowed; });
    var choice = data.payout_choice;
    box.hidden = !open && !choice;
    var current = $("kiosk-choice-current");
    current.hidden = !choice;
    if (choice) {
      current.textContent = fill(t.choice_current, {
        method: t["pay_" + choice.payout_method] || choice.payout_method,
        account: choice.payout_account,
      });
    }
    $("kiosk-choice-form").hidden = !!choice || !open;
  }

  function render(data) {
    var status = $("kiosk-status");
    status.textContent = data.status_text;
    status.className = "kiosk-status badge " + data.status;
    text($("kiosk-form-shown"), data.form);
    text($("kiosk-total"), money(data.total));
    text($("kiosk-net"), money(data.net_refund));
    var next = $("kiosk-next-step");
    next.textContent = data.next_step.text;
    next.className = "kiosk-step step-" + data.next_step.code;

    var payout = $("kiosk-payout");
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
    $("kiosk-payout-block").hidden = data.payout_options.length === 0;
    renderPayment(data.payment, data.net_refund);
    renderTrip(data);
    renderGreenLane(data);
    renderChoice(data);

    var timeline = $("kiosk-timeline");
    timeline.innerHTML = "";
    data.timeline.forEach(function (ev) {
      var li = document.createElement("li");
      var when = document.createElement("time");
      when.dateTime = ev.at;
      when.textContent = dateFmt.format(new Date(ev.at));
      var what = document.createElement("span");
      what.textContent = ev.text;
      li.appendChild(when);
      li.appendChild(what);
      timeline.appendChild(li);
    });
    resultEl.dataset.status = data.status;
    startEl.hidden = true;
    resultEl.hidden = false;
    stopCamera();
    window.scrollTo(0, 0);
    // Keyboard and screen-reader users land on the result, not on <body>.
    status.focus();
  }

  function lookup() {
    return fetch(root.dataset.lookupUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ form: lookedUp.qr, document_number: lookedUp.document, lang: lang }),
      credentials: "omit",
    });
  }

  formEl.addEventListener("submit", function (e) {
    e.preventDefault();
    showError("");
    var formMsg = formProblem(numberEl.value);
    var docMsg = documentProblem(docEl.value);
    fieldError(numberEl, $("kiosk-form-error"), formMsg);
    fieldError(docEl, $("kiosk-document-error"), docMsg);
    if (formMsg) { numberEl.focus(); return; }
    if (docMsg) { docEl.focus(); return; }
    submitEl.disabled = true;
    submitEl.textContent = t.searching;
    lookedUp = { qr: compact(numberEl.value), document: docEl.value };
    lookup().then(function (response) {
      if (response.ok) return response.json().then(render);
      if (response.status === 400) {
        return response.json().then(function (body) {
          var f = (body.extra && body.extra.fields) || {};
          fieldError(numberEl, $("kiosk-form-error"), f.form ? f.form[0] : "");
          fieldError(docEl, $("kiosk-document-error"), f.document_number ? f.document_number[0] : "");
        });
      }
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

  // Green lane: only on a machine whose stored device key the API confirms.
  var storedKey = null;
  try { storedKey = window.localStorage.getItem(DEVICE_STORAGE); } catch (err) { storedKey = null; }
  if (storedKey) {
    fetch(root.dataset.deviceUrl, {
      headers: { "Authorization": "Device " + storedKey, "Accept": "application/json" },
      credentials: "omit",
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
      if (d) { device = { key: storedKey, name: d.name, port: d.port }; root.dataset.device = d.name; }
    }, function () {});
  }
  function shanghaiToday() {
    return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
  }
  $("kiosk-green-lane-go").addEventListener("click", function () {
    var go = $("kiosk-green-lane-go");
    var msg = $("kiosk-green-lane-msg");
    go.disabled = true;
    fetch(root.dataset.greenLaneUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "Authorization": "Device " + device.key },
      body: JSON.stringify({ form: lookedUp.qr.slice(3, 19), qr: lookedUp.qr,
                             document_number: lookedUp.document, departure_date: shanghaiToday() }),
      credentials: "omit",
    }).then(function (response) {
      return response.json().then(function (body) {
        var again = response.status === 409 && body.code === "already_verified";
        if (response.status === 201 || again) {
          // A second press (or a first reply lost on the way) is no error: the form is
          // verified, and the screen shows it as it stands now.
          return lookup().then(function (r) { return r.ok ? r.json().then(render) : null; }).then(function () {
            if (again && !(body.extra && body.extra.same_device)) return;
            $("kiosk-green-lane").hidden = false;
            go.hidden = true;
            msg.textContent = t.green_lane_done;
            msg.className = "kiosk-step step-green_lane";
            msg.hidden = false;
          });
        }
        go.hidden = true;
        msg.textContent = body.code === "inspection_required" ? t.green_lane_inspection : t.green_lane_failed;
        msg.className = "kiosk-step step-red_lane";
        msg.hidden = false;
      });
    }).catch(function () {
      msg.textContent = t.green_lane_failed;
      msg.hidden = false;
    }).then(function () { go.disabled = false; });
  });

  // Pre-chosen transfer (and the email for notices), posted with the same proof of possession.
  function accountProblem(method, value) {
    var v = value.replace(/[\s-]+/g, "");
    if (!method) return ["method", t.err_method_empty];
    if (!v) return ["account", t.err_account_empty];
    var card = /^\d{12,19}$/.test(v);
    var phone = /^\+?\d{6,15}$/.test(v);
    var email = /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value.trim());
    if (method === "bank_card" ? !card : !(phone || email)) return ["account", t.err_account_malformed];
    return null;
  }
  $("kiosk-choice-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var method = (document.querySelector("input[name=payout_method]:checked") || {}).value || "";
    var account = $("kiosk-account").value.trim();
    var email = $("kiosk-email").value.trim();
    var errs = { method: "", account: "", email: "" };
    var problem = accountProblem(method, account);
    if (problem) errs[problem[0]] = problem[1];
    if (email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) errs.email = t.err_email_malformed;
    fieldError($("kiosk-account"), $("kiosk-choice-method-error"), errs.method);
    fieldError($("kiosk-account"), $("kiosk-account-error"), errs.account);
    fieldError($("kiosk-email"), $("kiosk-email-error"), errs.email);
    if (errs.method || errs.account || errs.email) return;
    var submit = $("kiosk-choice-submit");
    var errorBox = $("kiosk-choice-error");
    errorBox.hidden = true;
    submit.disabled = true;
    submit.textContent = t.saving;
    var body = { form: lookedUp.qr.length === 16 ? lookedUp.qr : lookedUp.qr.slice(3, 19),
                 document_number: lookedUp.document, payout_method: method, payout_account: account };
    if (email) body.email = email;
    fetch(root.dataset.choiceUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
    }).then(function (response) {
      return response.json().then(function (reply) {
        if (response.status === 201 || response.status === 200) {
          return lookup().then(function (r) { return r.ok ? r.json().then(render) : null; });
        }
        var f = (reply.extra && reply.extra.fields) || {};
        if (f.payout_account) fieldError($("kiosk-account"), $("kiosk-account-error"), t.err_account_malformed);
        if (f.email) fieldError($("kiosk-email"), $("kiosk-email-error"), t.err_email_malformed);
        if (!f.payout_account && !f.email) {
          errorBox.textContent = reply.code === "already_refunded" ? t.already_refunded
            : response.status === 429 ? t.throttled : t.network_error;
          errorBox.hidden = false;
        }
      });
    }).catch(function () {
      errorBox.textContent = t.network_error;
      errorBox.hidden = false;
    }).then(function () {
      submit.disabled = false;
      submit.textContent = t.choice_submit;
    });
  });

  $("kiosk-restart").addEventListener("click", function () {
    window.location.assign(startUrl + "?lang=" + encodeURIComponent(lang));
  });

  // Idle: after idleSeconds without a touch or key, back to the start (the browser's
  // language); the last warningSeconds count down on screen.
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
      !docEl.value && errorEl.hidden && !stream;
  }
  var idleTimer = setInterval(function () {
    if (pristine()) { activity(); return; }
    var left = Math.ceil(idleSeconds - (Date.now() - lastActivity) / 1000);
    if (left <= 0) {
      // Navigate once: a timer that kept assigning while the start page loads would
      // abort that load and start it again (a slow machine showed ERR_ABORTED).
      clearInterval(idleTimer);
      window.location.assign(startUrl);
    } else if (left <= warningSeconds) {
      idleEl.textContent = fill(t.idle_warning, { seconds: String(left) });
      idleEl.hidden = false;
    }
  }, 250);
})();
