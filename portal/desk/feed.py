"""Live fan-out of access events to open desk streams, across processes.

Each worker process has one Hub: a background thread that listens on Redis pub/sub (REDIS_URL set)
or PostgreSQL LISTEN (PostgreSQL without Redis) and hands each event to the process's open streams.
Writers announce only the ids of the events they committed; a hub with open streams reads those
rows and builds the board's payloads. So a gate decision pays a few bytes per event whether or not
a desk is watching, and the work of showing events falls on the processes that show them.
On SQLite (make run) the Hub polls the table instead, and this process's own commits wake it to read
at once (ids after commit).
Streams replay from the database after Last-Event-ID, so a reconnect loses nothing.
Each event is serialised once per process; the newest ones of every site this process streams or
answers polls for stay in a small buffer (Recent), from which a poll is answered without a query.
"""

import hashlib
import json
import logging
import queue
import threading
import time
from collections import deque
from datetime import timedelta

from flask import current_app, has_app_context
from sqlalchemy import text

from portal.extensions import db

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15
# Then the browser reconnects (Last-Event-ID, nothing lost) and is authorised again, so a logged-out
# guard stops receiving.
MAX_STREAM_SECONDS = 60
IDLE_STOP_SECONDS = 5
REPLAY_LIMIT = 2000
# Redis messages read into one delivery at most.
DRAIN = 100
# Ids per NOTIFY payload: 600 ids of up to 12 digits stay under the server's 8000-byte limit.
NOTIFY_IDS = 600
# The hub reads announced events at most this often, and a stream writes at most this often: one read and
# one write per quarter second instead of one per commit, however busy the gates (docs/desk-stream.md).
FLUSH_SECONDS = 0.25
# Newest events kept per site for polls, and how long after its last poll a site keeps its buffer filled.
RECENT_PER_SITE = 500
WATCH_SECONDS = 60
# An event decided before its buffer started may commit (and be announced) this much later.
RECENT_MARGIN_SECONDS = 5
# Stream entries that carry an alarm (sent as "event: alarm" frames, without an id: Last-Event-ID stays an event id).
ALARM = "alarm"
ALARM_POLL_MARGIN = timedelta(seconds=2)
# SQLite has no NOTIFY: the hub reads what other processes committed this often (an alarm must reach a board within 1 s).
POLL_SECONDS = 0.25


def encode(item):
    """An event payload as the stream and the poll send it (compact, UTF-8)."""
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


def _parse(raw, ids, alarms):
    """One announcement: a JSON array of access-event ids, or {"alarms": [ids]} (portal.alarms.feed)."""
    try:
        message = json.loads(raw)
    except (TypeError, ValueError):
        return
    if isinstance(message, list):
        ids.extend(message)
    elif isinstance(message, dict):
        alarms.extend(i for i in message.get("alarms", ()) if type(i) is int)


def mode_for(app):
    """redis | postgres | local, from DESK_FEED or what is configured."""
    forced = app.config.get("DESK_FEED", "auto")
    if forced and forced != "auto":
        return forced
    if app.config.get("REDIS_URL"):
        return "redis"
    if str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        return "postgres"
    return "local"


def channel(app):
    """Channel name; one per database and schema, so apps sharing a server never mix."""
    if app.config.get("DESK_CHANNEL"):
        return app.config["DESK_CHANNEL"]
    opts = (app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}).get("connect_args", {}).get("options", "")
    tag = hashlib.sha256(f"{app.config['SQLALCHEMY_DATABASE_URI']}|{opts}".encode()).hexdigest()[:12]
    return f"desk_events_{tag}"


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
        self._last_read = 0.0
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
                with self.lock:
                    clients = list(self.clients)
                for c in clients:
                    c.replay_later()
                return
            finally:
                db.session.remove()
        self.dispatch(items)

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
                with self.lock:
                    clients = list(self.clients)
                for c in clients:
                    c.replay_later()
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

    def _keep_running(self):
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

    def _pause(self):
        """Seconds to wait before the next read, so the hub reads at most every FLUSH_SECONDS."""
        return max(0.0, self._last_read + FLUSH_SECONDS - time.monotonic())

    def _run(self):
        runner = {"redis": self._run_redis, "postgres": self._run_pg}.get(self.mode, self._run_poll)
        while True:
            try:
                runner()
                return
            except Exception:
                log.exception("desk feed listener failed; reconnecting")
                self.ready.clear()
                self._forget()
                time.sleep(0.5)
                if not self._keep_running():
                    return

    def _run_redis(self):
        import redis

        conn = redis.Redis.from_url(self.app.config["REDIS_URL"])
        ps = conn.pubsub()
        try:
            ps.subscribe(self.channel)
            while True:
                msg = ps.get_message(timeout=1.0)
                if msg and msg["type"] == "subscribe":
                    break
            self.ready.set()
            while self._keep_running():
                ids, alarms, msg = [], [], ps.get_message(timeout=0.5)
                if msg is not None:
                    # What arrives meanwhile goes into the same read (bounded, so streams never starve).
                    until = time.monotonic() + self._pause()
                    for _ in range(DRAIN):
                        if msg is None:
                            left = until - time.monotonic()
                            if left <= 0 or (msg := ps.get_message(timeout=left)) is None:
                                break
                        if msg["type"] == "message":
                            _parse(msg["data"], ids, alarms)
                        msg = ps.get_message(timeout=0)
                if ids or alarms:
                    self._last_read = time.monotonic()
                    self.deliver(ids)
                    self.deliver_alarms(alarms)
        finally:
            ps.close()
            conn.close()

    def _run_pg(self):
        import psycopg
        from psycopg import sql
        from sqlalchemy.engine import make_url

        url = make_url(self.app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            self.ready.set()
            while self._keep_running():
                ids, alarms = [], []
                for note in conn.notifies(timeout=0.5, stop_after=1):
                    _parse(note.payload, ids, alarms)
                if ids or alarms:
                    # What arrives meanwhile goes into the same read (timeout=0 polls once).
                    pause = self._pause()
                    for note in [*(conn.notifies(timeout=pause) if pause else ()), *conn.notifies(timeout=0)]:
                        _parse(note.payload, ids, alarms)
                    self._last_read = time.monotonic()
                    self.deliver(ids)
                    self.deliver_alarms(alarms)

    def _run_poll(self):
        from portal.alarms.queries import changed_since
        from portal.core.timeutil import utcnow
        from portal.events.models import AccessEvent

        with self.app.app_context():
            high = db.session.scalar(db.select(db.func.max(AccessEvent.id))) or 0
            db.session.remove()
        alarms_since = utcnow()
        self.ready.set()
        while self._keep_running():
            # Woken by this process's commits (after_commit_publish), else every POLL_SECONDS for others' (bridge, CLI).
            self.wake.wait(POLL_SECONDS)
            time.sleep(self._pause())
            self.wake.clear()
            self._last_read = time.monotonic()
            with self.app.app_context():
                try:
                    ids = db.session.scalars(
                        db.select(AccessEvent.id).where(AccessEvent.id > high).order_by(AccessEvent.id).limit(500)
                    ).all()
                    # Alarms written by other processes (the bridge, the CLI); a margin for late commits, the
                    # board shows an alarm's latest state however often it arrives.
                    polled_at = utcnow()
                    alarms = changed_since(alarms_since - ALARM_POLL_MARGIN)
                    alarms_since = polled_at
                finally:
                    db.session.remove()
            if ids:
                high = ids[-1]
                self.deliver(ids)
            self.deliver_alarms(alarms)


def hub_for(app):
    """This process's hub for an app (created on first use)."""
    hub = app.extensions.get("desk_hub")
    if hub is None:
        with _hub_lock:
            hub = app.extensions.setdefault("desk_hub", Hub(app))
    return hub


_hub_lock = threading.Lock()
_tz_cache = {}


def site_tz(site_id):
    """A site's time zone name (cached; it does not change under a running desk)."""
    if site_id not in _tz_cache:
        from portal.sites.models import Site

        site = db.session.get(Site, site_id) if site_id else None
        _tz_cache[site_id] = site.timezone if site is not None else "Asia/Shanghai"
    return _tz_cache[site_id]


def payloads(events):
    """Board payloads for events."""
    from portal.desk.serialize import event_payload

    return [event_payload(ev, site_tz(ev.site_id)) for ev in events]


def notify_before_commit(session):
    """PostgreSQL: NOTIFY the transaction's new event ids right before COMMIT.

    NOTIFY is transactional: listeners hear it only if and when the transaction commits, and then
    the rows are there to read. Ids travel as JSON arrays of up to NOTIFY_IDS, all sent in one
    statement: a batch of the event journal costs one round trip.
    """
    from portal.events.operations import NEW_EVENTS

    ids = session.info.get(NEW_EVENTS)
    if not ids or not has_app_context():
        return
    app = current_app._get_current_object()
    if mode_for(app) != "postgres":
        return
    chunks = [json.dumps(ids[n : n + NOTIFY_IDS], separators=(",", ":")) for n in range(0, len(ids), NOTIFY_IDS)]
    calls = ", ".join(f"pg_notify(:c, :p{n})" for n in range(len(chunks)))
    session.connection().execute(
        text(f"SELECT {calls}"),
        {"c": channel(app), **{f"p{n}": chunk for n, chunk in enumerate(chunks)}},
    )


_redis_clients = {}


def publish(app, message):
    """Publish one announcement on the app's Redis channel."""
    import redis

    url = app.config["REDIS_URL"]
    client = _redis_clients.get(url) or _redis_clients.setdefault(url, redis.Redis.from_url(url))
    client.publish(channel(app), message)


def after_commit_publish(ids):
    """events.after_commit listener: publish the committed ids (Redis), or wake this process's hub to read them (local)."""
    if not has_app_context():
        return
    app = current_app._get_current_object()
    mode = mode_for(app)
    if mode == "redis":
        publish(app, json.dumps(list(ids), separators=(",", ":")))
    elif mode == "local":
        # The hub's thread reads them (at most every FLUSH_SECONDS), not the committing thread: that is
        # often a request thread that the gate is waiting for.
        hub = app.extensions.get("desk_hub")
        if hub is not None:
            hub.wake.set()


class _Frames:
    """A stream's body that unsubscribes and calls on_close when it ends, is closed, or is closed unstarted.

    A generator closed before its first step never runs its finally block, so a client that went away
    before the first write would otherwise keep its subscription (and its stream slot) for ever.
    """

    def __init__(self, gen, hub, client, on_close):
        self.gen, self.hub, self.client, self.on_close = gen, hub, client, on_close

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self.gen)
        except BaseException:
            self.close()
            raise

    def close(self):
        """End the stream: stop the generator, unsubscribe, release what the caller holds."""
        try:
            self.gen.close()
        finally:
            self.hub.unsubscribe(self.client)
            if self.on_close is not None:
                self.on_close()


def _frame(entry):
    if entry[0] == ALARM:
        return f"event: alarm\ndata: {entry[1]}\n\n"
    return f"id: {entry[0]}\ndata: {entry[1]}\n\n"


def sse_frames(hub, client, replay, replay_complete=True, max_seconds=MAX_STREAM_SECONDS, on_close=None, alarms=()):
    """The text/event-stream body: standing alarms, replayed events, then live ones, with heartbeats; ends after max_seconds."""

    def gen():
        yield "retry: 1000\n\n"
        for item in alarms:
            yield _frame((ALARM, encode(item)))
        replayed = set()
        for item in replay:
            replayed.add(item["id"])
            yield f"id: {item['id']}\ndata: {encode(item)}\n\n"
        if not replay_complete:
            return  # more to replay: the client reconnects from the last id it got
        deadline = time.monotonic() + max_seconds
        flushed = 0.0
        while time.monotonic() < deadline and not client.overflow:
            try:
                batch = [client.q.get(timeout=min(HEARTBEAT_SECONDS, max(0.01, deadline - time.monotonic())))]
            except queue.Empty:
                yield ": ping\n\n"
                continue
            # Whatever queues up within FLUSH_SECONDS of the last write goes out in the next one: a few
            # wake-ups and writes a second per stream, not one per event, which the gate's threads would wait on.
            time.sleep(max(0.0, min(flushed + FLUSH_SECONDS, deadline) - time.monotonic()))
            flushed = time.monotonic()
            while len(batch) < 1000:
                try:
                    batch.append(client.q.get_nowait())
                except queue.Empty:
                    break
            frames = "".join(_frame(e) for e in batch if e is not None and e[0] not in replayed)
            if frames:
                yield frames

    return _Frames(gen(), hub, client, on_close)
