// Polls a connection test until the bridge answers (or the wait runs out) and shows the answer in the page's language.
(function () {
  var box = document.getElementById("check");
  if (!box || !box.dataset.poll) return;
  var lang = (document.documentElement.lang || "zh").slice(0, 2);
  function show(state) {
    box.className = "check check-" + state.status;
    box.querySelector(".check-message").textContent = state.message[lang] || state.message.en;
    box.querySelector(".check-detail").textContent = state.detail || "";
    if (state.status === "queued") setTimeout(poll, 1000);
  }
  function poll() {
    fetch(box.dataset.poll, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) { if (state) show(state); })
      .catch(function () { setTimeout(poll, 3000); });
  }
  if (box.dataset.status === "queued") setTimeout(poll, 1000);
})();
