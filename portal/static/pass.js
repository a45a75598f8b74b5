// Keeps the visitor's QR and keypad code current: fetch /live at each step boundary. When that fails
// the page says so plainly (the gate refuses an out-of-date QR as "stale"), counts down to the next
// try and tells the visitor what to do instead of showing a dead code as if it were good.
(function () {
  "use strict";
  var card = document.querySelector(".pass-card[data-refresh-at]");
  if (!card) { return; }
  var img = document.getElementById("qr");
  var code = document.getElementById("code");
  var banner = document.getElementById("stale");
  var retryIn = document.getElementById("retry-in");
  var nextCode = document.getElementById("next-code");
  var step = Number(card.dataset.step) || 30;
  // The server's clock decides: keep the difference to this phone's clock.
  var offset = Number(card.dataset.serverNow) * 1000 - Date.now() || 0;
  var refreshAt = Number(card.dataset.refreshAt);  // Unix seconds when the shown code is replaced
  var nextTry = refreshAt * 1000 + 300;
  var failures = 0;
  var busy = false;

  function now() { return Date.now() + offset; }

  function say(el, ms) {
    el.textContent = el.dataset.text.replace("{s}", String(Math.max(0, Math.ceil(ms / 1000))));
  }

  function tick() {
    var t = now();
    if (!busy && t >= nextTry) { refresh(); }
    var stale = t >= refreshAt * 1000 + 1500;
    card.classList.toggle("stale", stale);
    card.classList.toggle("refused", t >= (refreshAt + step) * 1000);
    banner.hidden = !stale;
    nextCode.hidden = stale;
    if (stale) { say(retryIn, nextTry - t); } else { say(nextCode, refreshAt * 1000 - t); }
  }

  function failed() {
    busy = false;
    failures += 1;
    nextTry = now() + Math.min(5000 * failures, 15000);
    tick();
  }

  function refresh() {
    busy = true;
    fetch(card.dataset.live, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (d) {
        busy = false;
        if (!d.qr || d.status !== card.dataset.state) { window.location.reload(); return; }
        var server = Date.parse(d.server_time);
        if (!isNaN(server)) { offset = server - Date.now(); }
        failures = 0;
        code.textContent = d.code.slice(0, 5) + " " + d.code.slice(5);
        img.src = card.dataset.qr + "?t=" + encodeURIComponent(d.refresh_at);
        card.dataset.current = d.qr;
        refreshAt = d.refresh_at;
        nextTry = refreshAt * 1000 + 300;
        tick();
      })
      .catch(failed);
  }

  document.getElementById("retry-now").addEventListener("click", function () { nextTry = 0; tick(); });
  window.addEventListener("online", function () { nextTry = 0; tick(); });
  window.setInterval(tick, 1000);
  tick();
})();
