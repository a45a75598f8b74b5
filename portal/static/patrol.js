// The guard's round: scans and hazards are kept in localStorage with the phone's time, then sent in batches.
// The server applies each client id once, so a retry after a lost answer changes nothing.
(function () {
  "use strict";
  var root = document.getElementById("round");
  if (!root || root.dataset.walking !== "1" || root.dataset.status !== "active") { return; }
  // The service worker keeps this page and its files, so it opens again with no signal.
  if ("serviceWorker" in navigator && root.dataset.swUrl) {
    navigator.serviceWorker.register(root.dataset.swUrl, {scope: "/patrol/rounds/"}).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      if (reg.active) { reg.active.postMessage({keep: window.location.pathname}); }
    }).catch(function () { /* no offline opening; scans are still kept in localStorage */ });
  }
  var key = "patrol-round-" + root.dataset.roundId;
  var status = document.getElementById("sync-status");
  var busy = false;

  function load() {
    try { return JSON.parse(localStorage.getItem(key)) || {scans: [], hazards: [], finish: null}; }
    catch (e) { return {scans: [], hazards: [], finish: null}; }
  }
  function save(q) {
    try { localStorage.setItem(key, JSON.stringify(q)); return true; }
    catch (e) { say(root.dataset.msgFull); return false; }  // storage full (photos): the scan list is kept in memory
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }
  function say(text) { status.textContent = text; }
  function checkpointOf(text) {
    // Only to tick the list at once; the server checks the signature when the scan arrives.
    var t = (text || "").trim().toUpperCase();
    var m = /^PC1:\d+:(\d+):[A-Z2-7]{16}$/.exec(t) || /^(\d+)-[A-Z0-9]{6}$/.exec(t.replace(/\s/g, ""));
    return m ? m[1] : null;
  }
  function mark(cp, cls, text) {
    var li = document.querySelector('#stops li[data-checkpoint="' + cp + '"]');
    if (!li) { return false; }
    if (!li.classList.contains("reached")) {
      li.className = cls;
      li.querySelector(".state").textContent = text;
    }
    return true;
  }
  function pending(q) { return q.scans.length + q.hazards.length + (q.finish ? 1 : 0); }
  function post(url, body, isForm) {
    var headers = {"X-CSRFToken": root.dataset.csrf, "Accept": "application/json"};
    if (!isForm) { headers["Content-Type"] = "application/json"; }
    return fetch(url, {method: "POST", credentials: "same-origin", headers: headers, body: isForm ? body : JSON.stringify(body)});
  }
  function blobOf(dataUrl) {
    var parts = dataUrl.split(","), bin = atob(parts[1]), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return new Blob([bytes], {type: "image/jpeg"});
  }

  async function sync() {
    if (busy) { return; }
    busy = true;
    var q = load();
    try {
      if (q.scans.length) {
        var resp = await post(root.dataset.scansUrl, {scans: q.scans});
        if (!resp.ok) { throw new Error("http " + resp.status); }
        var out = await resp.json();
        var done = new Set(out.applied.concat(out.duplicates));
        out.rejected.forEach(function (r) { done.add(r.id); say(root.dataset.msgRejected + " " + r.code); });
        q = load();
        q.scans = q.scans.filter(function (s) { return !done.has(s.id); });
        save(q);
        (out.round.scans || []).forEach(function (s) { mark(String(s.checkpoint_id), "reached", root.dataset.msgReached); });
      }
      while (q.hazards.length) {
        var h = q.hazards[0], form = new FormData();
        ["id", "description", "found_at", "checkpoint_id"].forEach(function (k) { if (h[k]) { form.append(k, h[k]); } });
        form.append("round_id", root.dataset.roundId);
        if (h.photo) { form.append("photo", blobOf(h.photo), "hazard.jpg"); }
        var hr = await post(root.dataset.hazardsUrl, form, true);
        if (!hr.ok && hr.status !== 400 && hr.status !== 413) { throw new Error("http " + hr.status); }
        if (!hr.ok) { say(root.dataset.msgRejected + " " + ((await hr.json()).error || {}).message); }
        q = load();
        q.hazards.shift();
        save(q);
      }
      if (q.finish && !q.scans.length) {
        var fr = await post(root.dataset.finishUrl, {finished_at: q.finish});
        if (!fr.ok && fr.status !== 409) { throw new Error("http " + fr.status); }
        localStorage.removeItem(key);
        window.location.reload();
        return;
      }
      say(pending(load()) ? root.dataset.msgWaiting + " " + pending(load()) : root.dataset.msgSynced);
    } catch (e) {
      say(root.dataset.msgOffline + " " + root.dataset.msgWaiting + " " + pending(load()));
    } finally {
      busy = false;
    }
  }

  function record(text) {
    var cp = checkpointOf(text);
    if (!cp || !mark(cp, "queued", root.dataset.msgSaved)) { say(root.dataset.msgUnknown); return; }
    var q = load();
    var scan = {id: newId(), scanned_at: new Date().toISOString()};
    if (/^PC1:/i.test(text.trim())) { scan.payload = text.trim(); } else { scan.code = text.trim(); }
    q.scans.push(scan);
    save(q);
    say(root.dataset.msgSaved);
    sync();
  }

  document.getElementById("manual").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = document.getElementById("code");
    record(input.value);
    input.value = "";
  });

  document.getElementById("camera-start").addEventListener("click", async function () {
    var note = document.getElementById("camera-note");
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices) {
      note.textContent = root.dataset.msgNocamera;
      note.hidden = false;
      return;
    }
    var video = document.getElementById("camera");
    var detector = new BarcodeDetector({formats: ["qr_code"]});
    var stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}});
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    var last = "";
    var timer = setInterval(async function () {
      try {
        var codes = await detector.detect(video);
        if (codes.length && codes[0].rawValue !== last) { last = codes[0].rawValue; record(last); }
      } catch (e) { /* a frame that could not be read: try the next */ }
    }, 300);
    window.addEventListener("pagehide", function () { clearInterval(timer); stream.getTracks().forEach(function (t) { t.stop(); }); });
  });

  document.getElementById("hazard").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target, file = document.getElementById("hazard-photo").files[0];
    var item = {
      id: newId(),
      description: document.getElementById("hazard-text").value,
      checkpoint_id: document.getElementById("hazard-where").value,
      found_at: new Date().toISOString()
    };
    function keep(photo) {
      item.photo = photo;
      var q = load();
      q.hazards.push(item);
      if (!save(q)) { item.photo = null; save(q); }  // no room for the photo: keep the report without it
      form.reset();
      document.getElementById("hazard-box").open = false;
      say(root.dataset.msgSaved);
      sync();
    }
    if (!file) { keep(null); return; }
    // Scaled down on the phone so a queued photo fits in local storage while offline.
    var img = new Image(), url = URL.createObjectURL(file);
    img.onload = function () {
      var scale = Math.min(1, 1600 / Math.max(img.width, img.height)), c = document.createElement("canvas");
      c.width = Math.round(img.width * scale);
      c.height = Math.round(img.height * scale);
      c.getContext("2d").drawImage(img, 0, 0, c.width, c.height);
      URL.revokeObjectURL(url);
      keep(c.toDataURL("image/jpeg", 0.8));
    };
    img.onerror = function () { keep(null); };
    img.src = url;
  });

  document.getElementById("finish").addEventListener("click", function () {
    var q = load();
    q.finish = q.finish || new Date().toISOString();
    save(q);
    say(root.dataset.msgFinishing);
    sync();
  });
  document.getElementById("sync-now").addEventListener("click", sync);
  window.addEventListener("online", sync);
  setInterval(function () { if (pending(load())) { sync(); } }, 10000);
  // What was queued before a reload (or a dead battery) is shown and sent.
  load().scans.forEach(function (s) { var cp = checkpointOf(s.payload || s.code); if (cp) { mark(cp, "queued", root.dataset.msgSaved); } });
  if (pending(load())) { sync(); }
})();
