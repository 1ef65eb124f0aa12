/* Kiosk device set-up: check a device key with the API, keep it in local storage. */
(function () {
  "use strict";
  var root = document.getElementById("kiosk-device");
  if (!root) return;
  var STORAGE = "kiosk-device-key";
  var statusEl = document.getElementById("device-status");
  var keyEl = document.getElementById("device-key");
  var errorEl = document.getElementById("device-error");

  function check(key) {
    return fetch(root.dataset.deviceUrl, {
      headers: { "Authorization": "Device " + key, "Accept": "application/json" },
      credentials: "omit",
    }).then(function (r) { return r.ok ? r.json() : null; });
  }
  function show() {
    var key = window.localStorage.getItem(STORAGE);
    if (!key) { statusEl.textContent = "No device key is stored in this browser."; return; }
    check(key).then(function (device) {
      statusEl.textContent = device
        ? "This kiosk is " + device.name + " at port " + device.port + ": the green lane is on."
        : "The stored key is unknown or revoked: the green lane is off.";
    }, function () { statusEl.textContent = "The service is not reachable."; });
  }
  document.getElementById("device-form").addEventListener("submit", function (e) {
    e.preventDefault();
    errorEl.hidden = true;
    var key = keyEl.value.trim();
    if (!key) { errorEl.textContent = "Paste the device key."; errorEl.hidden = false; return; }
    check(key).then(function (device) {
      if (!device) { errorEl.textContent = "This key is unknown or revoked."; errorEl.hidden = false; return; }
      window.localStorage.setItem(STORAGE, key);
      keyEl.value = "";
      show();
    });
  });
  document.getElementById("device-forget").addEventListener("click", function () {
    window.localStorage.removeItem(STORAGE);
    show();
  });
  show();
})();
