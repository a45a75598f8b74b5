// Live board: rows arrive by server-sent events (or by polling while a stream is refused); ids de-duplicate.
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

  function join(parts) { return parts.filter(Boolean).join(" · "); }

  // A remote open says which device and door, and which guard: as the server-rendered rows do.
  function remoteParts(r) {
    if (!r) { return []; }
    var device = lang === "en" && r.device_en ? r.device_en : r.device;
    var door = r.door === null || r.door === undefined ? "" : table.dataset.door.replace("{n}", r.door);
    return [device, door, r.guard];
  }

  var newest = 0, newestTs = 0;
  function addRow(ev) {
    if (seen[ev.id]) { return; }
    seen[ev.id] = true;
    newest = Math.max(newest, ev.id);
    newestTs = Math.max(newestTs, ev.ts || 0);
    var tr = document.createElement("tr");
    tr.dataset.id = ev.id;
    tr.className = ev.decision + " fresh";
    cell(tr, ev.local_time);
    cell(tr, ev.gate ? (lang === "en" && ev.gate.name_en ? ev.gate.name_en : ev.gate.name) : "");
    cell(tr, ev.visitor || ev.plate || "");
    cell(tr, ev.unit || "");
    cell(tr, label(ev.method_label));
    cell(tr, join([label(ev.decision_label), label(ev.direction_label)]), ev.decision);
    cell(tr, join([label(ev.reason_label)].concat(remoteParts(ev.remote))));
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

  // Alarms: a list of those still waiting for a guard, kept by id; each new one sounds and stays until acknowledged.
  var alarmBox = document.getElementById("alarms");
  var alarmList = document.getElementById("alarm-list");
  var audio = null;
  function beep() {
    try {  // browsers may hold sound back until the guard has clicked on the page once
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [0, 0.35, 0.7].forEach(function (at) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = 880;
        gain.gain.value = 0.2;
        osc.connect(gain); gain.connect(audio.destination);
        osc.start(audio.currentTime + at); osc.stop(audio.currentTime + at + 0.2);
      });
    } catch (e) { /* no audio: the red card still shows */ }
  }
  function alarmCount() {
    var n = alarmList ? alarmList.children.length : 0;
    var count = document.getElementById("alarm-count");
    if (count) { count.textContent = n; }
    if (alarmBox) { alarmBox.classList.toggle("alert", n > 0); }
  }
  function showAlarm(a) {
    if (!alarmList) { return; }
    var li = alarmList.querySelector('li[data-id="' + a.id + '"]');
    if (a.state !== "open") {
      if (li) { alarmList.removeChild(li); alarmCount(); }
      return;
    }
    var fresh = !li;
    if (fresh) { li = document.createElement("li"); li.dataset.id = a.id; }
    while (li.firstChild) { li.removeChild(li.firstChild); }
    li.className = "alarm" + (fresh ? " fresh" : "");
    var strong = document.createElement("strong");
    strong.textContent = label(a.kind_label);
    li.appendChild(strong);
    var door = a.door === null || a.door === undefined ? "" : alarmBox.dataset.door.replace("{n}", a.door);
    li.appendChild(document.createTextNode(" · " + join([lang === "en" && a.device_en ? a.device_en : a.device, door, a.local_time])));
    var button = document.createElement("button");
    button.type = "button"; button.className = "ack"; button.dataset.id = a.id;
    button.textContent = alarmBox.dataset.ackLabel;
    li.appendChild(button);
    var incident = document.createElement("button");
    incident.type = "button"; incident.className = "incident"; incident.dataset.id = a.id;
    incident.textContent = alarmBox.dataset.incidentLabel;
    li.appendChild(incident);
    if (fresh) { alarmList.insertBefore(li, alarmList.firstChild); beep(); }
    alarmCount();
  }
  function acknowledge(id, incident) {
    // One action either way: acknowledge, or make it an incident (which acknowledges it too).
    var url = incident ? alarmBox.dataset.incident.replace("/1/incident", "/" + id + "/incident")
                       : alarmBox.dataset.ack.replace("/1/acknowledge", "/" + id + "/acknowledge");
    fetch(url, {method: "POST", credentials: "same-origin",
                headers: {"Accept": "application/json", "X-CSRFToken": alarmBox.dataset.csrf}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (a) { if (a) { showAlarm(a.alarm || a); } })
      .catch(function () { /* the button stays: the guard can try again */ });
  }
  function pollAlarms() {
    if (!alarmBox) { return; }
    fetch(alarmBox.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        var open = {};
        data.items.forEach(function (a) { open[a.id] = true; showAlarm(a); });
        Array.prototype.slice.call(alarmList.children).forEach(function (li) {
          if (!open[li.dataset.id]) { alarmList.removeChild(li); }
        });
        alarmCount();
      })
      .catch(function () { /* the next poll retries */ });
  }
  if (alarmList) {
    alarmList.addEventListener("click", function (e) {
      var t = e.target;
      if (t && (t.classList.contains("ack") || t.classList.contains("incident"))) {
        t.disabled = true;
        acknowledge(t.dataset.id, t.classList.contains("incident"));
      }
    });
  }

  function setStatus(state) {
    if (!status) { return; }
    status.textContent = status.dataset[state] || status.dataset.ok;
    status.className = "badge " + (state === "lost" ? "lost" : "live");
  }

  // A refused stream (the server caps open streams per worker and per user: 429/503, see
  // docs/desk-stream.md) closes the EventSource for good; the board then polls the events endpoint and
  // tries streaming again later, with jitter so refused boards do not come back all at once.
  var POLL_MS = 10000;  // bench/desk_streams.py: 192 boards polling every 10 s; at 5 s (for 200 rows) they cost the gate more
  var source = null, pollTimer = null, retryTimer = null;

  function poll() {
    pollAlarms();
    var url = new URL(table.dataset.events, window.location.href);
    // Only the newest 50 of the last few seconds (ids de-duplicate; the margin covers events committed a
    // little late): a poll costs the server a handful of rows however busy the gates and however many
    // boards poll. Beyond 5 events a second a polling board shows the newest; a streaming board shows all.
    if (newestTs) { url.searchParams.set("since", new Date((newestTs - 2) * 1000).toISOString()); }
    url.searchParams.set("limit", "50");
    fetch(url.toString(), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { setStatus("lost"); return; }
        data.items.slice().reverse().forEach(function (ev) {  // oldest first, like the stream
          // Rows the page already showed move the window on too: the next poll asks for the last few
          // seconds (which the server answers from memory), not for the newest 50 of all time.
          newest = Math.max(newest, ev.id);
          newestTs = Math.max(newestTs, ev.ts || 0);
          addRow(ev);
        });
        if (!source) { setStatus("polling"); }
      })
      .catch(function () { setStatus("lost"); });
  }

  function fallBack() {
    if (source) { source.close(); source = null; }
    if (!table.dataset.events) { setStatus("lost"); return; }
    setStatus("polling");
    if (!pollTimer) { pollTimer = setInterval(poll, POLL_MS); setTimeout(poll, Math.random() * POLL_MS); }
    if (!retryTimer) { retryTimer = setTimeout(function () { retryTimer = null; connect(); }, 30000 + Math.random() * 30000); }
  }

  function connect() {
    var url = new URL(table.dataset.stream, window.location.href);
    if (newest) { url.searchParams.set("last_id", newest); }  // a new EventSource replays only what this board lacks
    source = new EventSource(url.toString());
    source.onopen = function () {
      setStatus("ok");
      pollAlarms();  // alarms acknowledged on another board while this one was away leave the list
      if (pollTimer) { clearInterval(pollTimer); pollTimer = null; poll(); }  // one last read closes any gap
    };
    source.onerror = function () {
      // CLOSED: the server refused (or the stream failed for good); otherwise EventSource reconnects
      // by itself with Last-Event-ID.
      if (source && source.readyState === EventSource.CLOSED) { fallBack(); } else { setStatus("lost"); }
    };
    source.onmessage = function (msg) {
      try { addRow(JSON.parse(msg.data)); } catch (e) { /* ignore a malformed frame */ }
    };
    source.addEventListener("alarm", function (msg) {
      try { showAlarm(JSON.parse(msg.data)); } catch (e) { /* ignore a malformed frame */ }
    });
  }

  connect();
  setInterval(refreshExceptions, 15000);
})();
