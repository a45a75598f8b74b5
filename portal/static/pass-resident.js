// The resident's pass pages: the invite form shows only what the chosen kind needs, and the pass page
// shares the visitor's link (Web Share API, else the clipboard, else the link selected for copying).
(function () {
  "use strict";

  var form = document.getElementById("invite");
  if (form) {
    var kind = form.elements.kind;
    var groups = form.querySelectorAll("[data-kinds]");
    var apply = function () {
      Array.prototype.forEach.call(groups, function (el) {
        var needed = el.dataset.kinds.split(" ").indexOf(kind.value) >= 0;
        el.hidden = !needed;
        // A hidden field is not sent: what a guest pass does not need cannot sneak in from another kind.
        Array.prototype.forEach.call(el.querySelectorAll("input, select, textarea"), function (input) {
          input.disabled = !needed;
        });
      });
    };
    kind.addEventListener("change", apply);
    apply();
    var unlimited = form.elements.unlimited;
    var entries = form.elements.max_entries;
    if (unlimited && entries) {
      var sync = function () { entries.disabled = unlimited.checked || unlimited.disabled; };
      unlimited.addEventListener("change", sync);
      kind.addEventListener("change", sync);
      sync();
    }
  }

  var share = document.getElementById("share");
  if (share) {
    var status = document.getElementById("share-status");
    var url = share.dataset.url;
    var fallback = function () {
      if (navigator.clipboard && window.isSecureContext) {
        return navigator.clipboard.writeText(url).then(function () { status.textContent = share.dataset.copied; });
      }
      return Promise.reject(new Error("no clipboard"));
    };
    var byHand = function () {
      status.textContent = share.dataset.failed + " ";
      var box = document.createElement("input");
      box.type = "text";
      box.readOnly = true;
      box.value = url;
      box.id = "share-url";
      status.appendChild(box);
      box.select();
    };
    share.addEventListener("click", function () {
      var shared = navigator.share ? navigator.share({ title: share.dataset.title, text: share.dataset.title, url: url })
        .catch(function (err) { if (err && err.name === "AbortError") { return null; } return fallback(); })
        : fallback();
      shared.catch(byHand);
    });
  }
})();
