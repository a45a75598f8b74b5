// Live board: rows arrive by server-sent events; ids de-duplicate replays after a reconnect.
(function () {
  "use strict";
  var table = document.getElementById("events");
  if (!table || !window.EventSource) { return; }
  var body = table.tBodies[0];
  var lang = table.dataset.lang === "en" ? "en" : "zh";
  var status = document.getElementById("live-status");
  var MAX_ROWS = 300;
  var seen = {};
  Array.prototype.forEach.call(body.rows, function (tr) { seen[tr.dataset.id] = true; });

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text || "";  // textContent: names can never inject markup
    if (cls) { td.className = cls; }
    tr.appendChild(td);
  }

  function label(obj) { return obj ? (obj[lang] || obj.en || "") : ""; }

  function addRow(ev) {
    if (seen[ev.id]) { return; }
    seen[ev.id] = true;
    var tr = document.createElement("tr");
    tr.dataset.id = ev.id;
    tr.className = ev.decision + " fresh";
    cell(tr, ev.local_time);
    cell(tr, ev.gate ? (lang === "en" && ev.gate.name_en ? ev.gate.name_en : ev.gate.name) : "");
    cell(tr, ev.visitor || ev.plate || "");
    cell(tr, ev.unit || "");
    cell(tr, label(ev.method_label));
    cell(tr, label(ev.decision_label), ev.decision);
    cell(tr, label(ev.reason_label));
    var before = body.firstChild;
    while (before && before.dataset && Number(before.dataset.id) > ev.id) { before = before.nextSibling; }
    body.insertBefore(tr, before);
    while (body.rows.length > MAX_ROWS) { body.deleteRow(body.rows.length - 1); }
    if (ev.decision === "deny" || (ev.flags && ev.flags.length)) { refreshExceptions(); }
  }

  var pending = null;
  function refreshExceptions() {
    if (pending) { return; }
    pending = setTimeout(function () {
      pending = null;
      fetch(table.dataset.exceptions, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          var list = document.getElementById("exc-list");
          var count = document.getElementById("exc-count");
          if (count) { count.textContent = data.items.length; }
          if (!list) { return; }
          while (list.firstChild) { list.removeChild(list.firstChild); }
          data.items.slice(0, 20).forEach(function (x) {
            var li = document.createElement("li");
            li.textContent = label(x.kind_label) + (x.count > 1 ? " ×" + x.count : "") + (x.gate ? " · " + x.gate : "");
            list.appendChild(li);
          });
        })
        .catch(function () { /* the next event retries */ });
    }, 500);
  }

  function setStatus(ok) {
    if (!status) { return; }
    status.textContent = ok ? status.dataset.ok : status.dataset.lost;
    status.className = "badge " + (ok ? "live" : "lost");
  }

  var source = new EventSource(table.dataset.stream);
  source.onopen = function () { setStatus(true); };
  source.onerror = function () { setStatus(false); };  // EventSource reconnects with Last-Event-ID by itself
  source.onmessage = function (msg) {
    try { addRow(JSON.parse(msg.data)); } catch (e) { /* ignore a malformed frame */ }
  };
  setInterval(refreshExceptions, 15000);
})();
