// The patrol round's service worker: a round page opened once still opens with no signal (a reload in the
// garage, a browser that dropped the tab), with its scripts and styles. Scope: /patrol/rounds/ only.
// Network first, so a page with signal is always current; the copy answers only when the network does not.
"use strict";
var CACHE = "patrol-rounds-v1";
var MAX_AGE_MS = 24 * 3600 * 1000;  // a round is walked within hours; an older copy is not shown

self.addEventListener("install", function (ev) {
  var assets = new URL(self.location).searchParams.getAll("asset");
  ev.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(assets); }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (ev) {
  ev.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n !== CACHE; }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function keep(request, response) {
  // Only a page the guard could see: not a redirect to the login page, not an error.
  if (response.ok && !response.redirected && response.type === "basic") {
    var copy = response.clone();
    caches.open(CACHE).then(function (c) { c.put(request, copy); });
  }
  return response;
}

function fresh(response) {
  var date = response && Date.parse(response.headers.get("Date") || "");
  return response && (!date || Date.now() - date < MAX_AGE_MS) ? response : Response.error();
}

// The page asks for its own copy once this worker controls it (its first load came before the worker).
self.addEventListener("message", function (ev) {
  var path = ev.data && ev.data.keep;
  if (typeof path === "string" && path.indexOf("/patrol/rounds/") === 0) {
    ev.waitUntil(fetch(path, {credentials: "same-origin"}).then(function (resp) { keep(new Request(path), resp); }).catch(function () {}));
  }
});

self.addEventListener("fetch", function (ev) {
  var req = ev.request, url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) { return; }
  if (req.mode !== "navigate" && url.pathname.indexOf("/static/") !== 0) { return; }  // API calls go straight out
  ev.respondWith(fetch(req).then(function (resp) { return keep(req, resp); }).catch(function () {
    return caches.match(req).then(fresh);
  }));
});
