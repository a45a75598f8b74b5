"""Each worker process's hub: one listener thread handing announced events to the process's open desk streams.

A hub with open streams reads the announced rows and builds the board's payloads once per process; the
newest ones of every site it streams or answers polls for stay in a small buffer (Recent), from which a
poll is answered without a query. Streams replay from the database after Last-Event-ID, so a reconnect
loses nothing. How the listener hears announcements is portal.desk.listeners.
"""

import logging
import queue
import threading
import time
from collections import deque

from portal.desk import listeners
from portal.desk.feed import ALARM, FLUSH_SECONDS, channel, encode, mode_for, payloads, site_tz
from portal.extensions import db

log = logging.getLogger(__name__)
IDLE_STOP_SECONDS = 5
# Newest events kept per site for polls, and how long after its last poll a site keeps its buffer filled.
RECENT_PER_SITE = 500
WATCH_SECONDS = 60
# An event decided before its buffer started may commit (and be announced) this much later.
RECENT_MARGIN_SECONDS = 5


class Client:
    """One open stream: its queue and filters."""

    def __init__(self, site_id, gate_id=None, decision=None):
        self.q = queue.Queue(maxsize=20000)
        self.site_id, self.gate_id, self.decision = site_id, gate_id, decision
        self.overflow = False

    def wants(self, item):
        """True when the event passes the stream's filters."""
        if self.site_id is not None and item.get("site_id") != self.site_id:
            return False
        if self.decision and item.get("decision") != self.decision:
            return False
        return not (self.gate_id and (item.get("gate") or {}).get("id") != self.gate_id)

    def offer(self, entry):
        """Queue without blocking the hub; a stream that falls behind is closed and replays."""
        try:
            self.q.put_nowait(entry)
        except queue.Full:
            self.overflow = True

    def replay_later(self):
        """End the stream now; the browser reconnects with Last-Event-ID and replays what it missed."""
        self.overflow = True
        try:
            self.q.put_nowait(None)  # wakes the stream if it waits for events
        except queue.Full:
            pass


class Recent:
    """A site's newest events, encoded, and the time after which it holds every one the hub was told of."""

    def __init__(self, floor):
        self.rows = deque()  # (id, ts, decision, gate id, encoded payload), in arrival order
        self.floor = floor

    def add(self, item, data):
        """Keep one event; the oldest leaves, and the buffer then vouches only for events after it."""
        if len(self.rows) >= RECENT_PER_SITE:
            self.floor = max(self.floor, self.rows.popleft()[1])
        self.rows.append((item["id"], item.get("ts") or 0, item.get("decision"), (item.get("gate") or {}).get("id"), data))

    def select(self, since_ts, decision=None, gate_id=None, limit=100):
        """Encoded events at or after since_ts, newest id first, as the events query orders them; None if not all are here."""
        if since_ts is None or since_ts <= self.floor:
            return None
        rows = [
            r for r in self.rows if r[1] >= since_ts and (not decision or r[2] == decision) and (not gate_id or r[3] == gate_id)
        ]
        rows.sort(key=lambda r: r[0], reverse=True)
        return [r[4] for r in rows[:limit]]


class Hub:
    """Per-process dispatcher from the shared channel to this process's streams."""

    def __init__(self, app):
        self.app = app
        self.mode = mode_for(app)
        self.channel = channel(app)
        self.clients = set()
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self._thread = None
        self._idle_since = None
        self._seen = deque(maxlen=20000)
        self._seen_set = set()
        self.recent = {}  # site id -> Recent, only while the listener has run without a break
        self._watched = {}  # site id -> when a poll last asked (monotonic)
        self.last_read = 0.0
        self.wake = threading.Event()  # SQLite: this process committed events; read them now

    def subscribe(self, client):
        """Add a stream; returns once the listener is live, so nothing falls between replay and live."""
        with self.lock:
            self.clients.add(client)
            if self._thread is None or not self._thread.is_alive():
                self.ready.clear()
                self._thread = threading.Thread(target=self._run, name="desk-feed", daemon=True)
                self._thread.start()
        self.ready.wait(timeout=5)
        if client.site_id is not None:
            self.watch(client.site_id, poll=False)
        return client

    def watch(self, site_id, poll=True):
        """A poll or a stream wants this site's events: keep its buffer filled; returns it once it is live, else None.

        Polls never start the listener (streams do: polls happen when the streams are full), but keep it
        and the buffer going for WATCH_SECONDS after the last. A buffer starts only with a live listener, and vouches
        for events decided RECENT_MARGIN_SECONDS after that: what committed before it is not in it.
        """
        with self.lock:
            return self._watch(site_id, poll)

    def _watch(self, site_id, poll):
        if poll:
            self._watched[site_id] = time.monotonic()
        if not self.ready.is_set() or self._thread is None:
            return None
        recent = self.recent.get(site_id)
        if recent is None:
            recent = self.recent[site_id] = Recent(time.time() + RECENT_MARGIN_SECONDS)
        return recent

    def recent_events(self, site_id, since_ts, decision=None, gate_id=None, limit=100):
        """Encoded events of a site from memory (see Recent.select), or None: then the caller reads the table."""
        with self.lock:  # one hold: a buffer the listener's failure empties cannot answer afterwards
            recent = self._watch(site_id, True)
            return None if recent is None else recent.select(since_ts, decision, gate_id, limit)

    def _wanted_sites(self):
        """Sites whose events this process needs (None: every site); called with the lock held."""
        sites = {c.site_id for c in self.clients}
        cutoff = time.monotonic() - WATCH_SECONDS
        for site_id, at in list(self._watched.items()):
            if at >= cutoff:
                sites.add(site_id)
            else:
                del self._watched[site_id]
        return sites

    def _forget(self):
        """The listener broke or stopped: events may have been missed, so no buffer vouches for anything."""
        with self.lock:
            self.recent.clear()

    def unsubscribe(self, client):
        """Remove a stream."""
        with self.lock:
            self.clients.discard(client)

    def dispatch(self, items):
        """Hand event payloads to matching streams, each event once."""
        fresh = []
        with self.lock:
            for item in items:
                eid = item.get("id")
                if eid is None or eid in self._seen_set:
                    continue
                if len(self._seen) == self._seen.maxlen:
                    self._seen_set.discard(self._seen[0])
                self._seen.append(eid)
                self._seen_set.add(eid)
                data = encode(item)
                recent = self.recent.get(item.get("site_id"))
                if recent is not None:
                    recent.add(item, data)
                fresh.append((item, data))
            clients = list(self.clients)
        for item, data in fresh:
            for c in clients:
                if c.wants(item):
                    c.offer((item["id"], data))

    def deliver(self, ids):
        """Read the announced events this process's streams may want, and dispatch their payloads."""
        with self.lock:
            fresh = [i for i in ids if type(i) is int and i not in self._seen_set]
            sites = self._wanted_sites()
        if not fresh or not sites:
            return
        from portal.desk.queries import events_by_id

        with self.app.app_context():
            try:
                items = payloads(events_by_id(fresh, None if None in sites else sites))
            except Exception:
                # Nothing announced may go missing from a board: its streams end and replay from the table.
                log.exception("desk feed: announced events could not be read; the streams replay")
                self._forget()
                self._end_streams()
                return
            finally:
                db.session.remove()
        self.dispatch(items)

    def _end_streams(self):
        """Every open stream ends now; each browser reconnects and replays what it missed from the table."""
        with self.lock:
            clients = list(self.clients)
        for c in clients:
            c.replay_later()

    def deliver_alarms(self, ids):
        """Read announced alarms of the sites this process streams and hand their current state to the streams."""
        with self.lock:
            sites = {c.site_id for c in self.clients}
        if not ids or not sites:
            return
        from portal.alarms.queries import by_ids
        from portal.alarms.serialize import alarm_json

        with self.app.app_context():
            try:
                items = [alarm_json(a, site_tz(a.site_id)) for a in by_ids(set(ids), None if None in sites else sites)]
            except Exception:
                log.exception("desk feed: announced alarms could not be read; the streams reconnect and read them")
                self._end_streams()
                return
            finally:
                db.session.remove()
        with self.lock:
            clients = list(self.clients)
        for item in items:
            data = encode(item)
            for c in clients:
                if c.site_id is None or c.site_id == item["site_id"]:
                    c.offer((ALARM, data))

    def keep_running(self):
        with self.lock:
            wanted = self._wanted_sites()
            for site_id in [s for s in self.recent if s not in wanted]:
                del self.recent[site_id]
            if wanted:
                self._idle_since = None
                return True
            now = time.monotonic()
            self._idle_since = self._idle_since or now
            if now - self._idle_since < IDLE_STOP_SECONDS:
                return True
            self._thread = None
            self.ready.clear()
            self.recent.clear()
            return False

    def pause(self):
        """Seconds to wait before the next read, so the hub reads at most every FLUSH_SECONDS."""
        return max(0.0, self.last_read + FLUSH_SECONDS - time.monotonic())

    def _run(self):
        runner = {"redis": listeners.run_redis, "postgres": listeners.run_pg}.get(self.mode, listeners.run_poll)
        while True:
            try:
                runner(self)
                return
            except Exception:
                log.exception("desk feed listener failed; reconnecting")
                self.ready.clear()
                self._forget()
                time.sleep(0.5)
                if not self.keep_running():
                    return


def hub_for(app):
    """This process's hub for an app (created on first use)."""
    hub = app.extensions.get("desk_hub")
    if hub is None:
        with _hub_lock:
            hub = app.extensions.setdefault("desk_hub", Hub(app))
    return hub


_hub_lock = threading.Lock()
