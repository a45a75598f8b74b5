// Keeps the visitor's QR and keypad code current: fetch /live at each step boundary.
(function () {
  "use strict";
  var card = document.querySelector(".pass-card");
  if (!card) { return; }
  var img = document.getElementById("qr");
  var code = document.getElementById("code");

  function schedule(refreshAt) {
    var wait = refreshAt ? Math.max(1000, refreshAt * 1000 - Date.now() + 300) : 15000;
    window.setTimeout(refresh, Math.min(wait, 31000));
  }

  function refresh() {
    fetch(card.dataset.live, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (d) {
        if (!d.qr) { window.location.reload(); return; }
        code.textContent = d.code.slice(0, 5) + " " + d.code.slice(5);
        img.src = card.dataset.qr + "?t=" + encodeURIComponent(d.refresh_at);
        card.dataset.current = d.qr;
        schedule(d.refresh_at);
      })
      .catch(function () { schedule(null); });
  }

  schedule(null);
  refresh();
})();
