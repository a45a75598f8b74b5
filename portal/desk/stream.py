"""The desk's text/event-stream response, shared by the page and the API route, and the events list refused boards poll.

Each open stream holds one of the worker's request threads until it ends, so streams are capped per
worker process and per user (docs/desk-stream.md): the threads left over always serve the gate.
A refused board polls the events list, answered from the feed's in-memory buffer when it can be.
"""

import threading
from collections import Counter

from flask import Response, current_app, request

from portal.accounts.sessions import api_user
from portal.alarms import queries as alarm_queries
from portal.alarms.serialize import alarm_json
from portal.core import metrics
from portal.core.converters import MAX_ID
from portal.core.errors import ApiError
from portal.desk import feed, frames, queries
from portal.desk import hub as desk_hub
from portal.desk.access import id_arg

# A refused board polls meanwhile and tries streaming again after about this long.
RETRY_AFTER_SECONDS = 30


class StreamSlots:
    """This process's count of open streams, in total and per user."""

    def __init__(self, per_worker, per_user):
        self.per_worker, self.per_user = per_worker, per_user
        self.lock = threading.Lock()
        self.open = 0
        self.by_user = Counter()

    def take(self, user_id):
        """Claim a slot, or raise a JSON 429 (this user has enough) or 503 (this worker has enough)."""
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        with self.lock:
            if self.by_user[user_id] >= self.per_user:
                raise ApiError(
                    429,
                    "too_many_streams",
                    "Too many live boards are open for this account; this one refreshes every few seconds instead.",
                    headers=retry,
                )
            if self.open >= self.per_worker:
                raise ApiError(
                    503, "streams_busy", "The live feed is busy; this board refreshes every few seconds instead.", headers=retry
                )
            self.open += 1
            self.by_user[user_id] += 1
            metrics.DESK_STREAMS.inc()
        return _Slot(self, user_id)

    def _give_back(self, user_id):
        with self.lock:
            self.open -= 1
            self.by_user[user_id] -= 1
            metrics.DESK_STREAMS.dec()
            if self.by_user[user_id] <= 0:
                del self.by_user[user_id]


class _Slot:
    """One claimed slot; released once, however the stream ends."""

    def __init__(self, slots, user_id):
        self.slots, self.user_id, self.held = slots, user_id, True
        self.lock = threading.Lock()

    def release(self):
        """Give the slot back (idempotent)."""
        with self.lock:
            if not self.held:
                return
            self.held = False
        self.slots._give_back(self.user_id)


def slots_for(app):
    """This process's stream slots for an app (created on first use)."""
    slots = app.extensions.get("desk_stream_slots")
    if slots is None:
        with _slots_lock:
            slots = app.extensions.setdefault(
                "desk_stream_slots",
                StreamSlots(app.config.get("DESK_STREAMS_PER_WORKER", 4), app.config.get("DESK_STREAMS_PER_USER", 2)),
            )
    return slots


_slots_lock = threading.Lock()


def _last_id():
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_id")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    # Beyond any row id: PostgreSQL would refuse to bind it to the INTEGER column (a 500).
    return value if 0 <= value <= MAX_ID else None


def events_response(site, decision=None, gate_id=None, since=None, until=None, before_id=None, limit=100):
    """A site's events as JSON, newest first: from this process's buffer when it holds all of them, else from the table.

    A board's poll (the newest since a moment a few seconds ago) is the common case and costs no query;
    the two paths send the same bytes.
    """
    limit = min(max(limit, 1), 500)
    decision = decision if decision in ("grant", "deny") else None
    items = None
    if since is not None and until is None and not before_id:
        hub = desk_hub.hub_for(current_app._get_current_object())
        items = hub.recent_events(site.id, since.timestamp(), decision=decision, gate_id=gate_id, limit=limit)
    if items is None:
        rows = queries.events(
            site.id, decision=decision, gate_id=gate_id, since=since, until=until, before_id=before_id, limit=limit
        )
        items = [feed.encode(p) for p in feed.payloads(rows)]
    return Response('{"items":[' + ",".join(items) + "]}\n", mimetype="application/json")


def stream_response(site_id):
    """Subscribe first, then replay what the client missed, then stream live: no gap, no loss."""
    app = current_app._get_current_object()
    decision = request.args.get("decision")
    decision = decision if decision in ("grant", "deny") else None
    gate_id = id_arg("gate")
    last = _last_id()
    slot = slots_for(app).take(api_user().id)
    hub = desk_hub.hub_for(app)
    try:
        client = hub.subscribe(desk_hub.Client(site_id, gate_id=gate_id, decision=decision))
    except BaseException:
        slot.release()
        raise
    replay, complete = [], True
    try:
        if last is not None:
            rows = queries.events_after(site_id, last, decision=decision, gate_id=gate_id, limit=feed.REPLAY_LIMIT)
            late = queries.late_events(site_id, last, decision=decision, gate_id=gate_id)
            replay = feed.payloads([*late, *rows])
            complete = len(rows) < feed.REPLAY_LIMIT
        # Every stream starts with the site's alarms still waiting for a guard: a reconnect misses none.
        standing = [alarm_json(a, feed.site_tz(site_id)) for a in alarm_queries.alarms(site_id, "open")]
    except BaseException:
        hub.unsubscribe(client)  # no stream will ever drain it
        slot.release()
        raise
    body = frames.sse_frames(hub, client, replay, replay_complete=complete, on_close=slot.release, alarms=standing)
    resp = Response(body, mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Accel-Buffering"] = "no"  # nginx must not buffer the stream
    return resp
