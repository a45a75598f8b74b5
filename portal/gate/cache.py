"""The decision cache: what a QR decision reads (device token, device, pass, watchlist hit), kept in each worker.

The database says when it is stale (portal.gate.triggers); docs/gate.md, "The decision cache", says why and how.
"""

import logging
import os
import threading
import time
import weakref

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from portal.core import reads
from portal.extensions import db
from portal.gate import errlog, triggers

log = logging.getLogger(__name__)
_RECONNECT_SECONDS = 1.0
_EPOCH_SQL = f"SELECT n FROM {triggers.EPOCH_TABLE} WHERE id = 1"  # noqa: S608 - a constant table name
_making = threading.Lock()
_LIVE = weakref.WeakSet()  # every replica of this process, emptied when the process itself commits a change


class DecisionCache:
    """The rows of one app's database in this worker, and whether they may be used right now."""

    def __init__(self, app, engine):
        self.app = getattr(app, "_get_current_object", lambda: app)()  # the app itself: the listener has no context
        self.max_entries = int(app.config.get("GATE_CACHE_MAX", 10_000))
        self.stale = app.config.get("GATE_CACHE_STALE_MS", 250) / 1000.0
        self.tokens = {}  # device token hash -> the token's and device's columns
        self.passes = {}  # pass id -> the pass's columns and its watchlist hit (unlimited passes only)
        self.generation = 0  # moves on every emptying: a read that started before one must not be stored
        self.warm_every = app.config.get("GATE_CACHE_WARM_SECONDS", 10.0)
        # An in-memory SQLite database lives on the session's connection, which no other thread may use.
        self.can_warm = bool(app.config.get("GATE_CACHE_WARM", True)) and not reads.readers(self.app).shared
        self.warmed = {}  # site id -> (generation, monotonic time) of its last warming
        self._wanted = []  # sites waiting to be warmed, with their loader
        self._warmer = None  # the thread warming them, while there is one
        self.epoch = None  # SQLite: the counter value the rows belong to
        self.fresh_as_of = float("-inf")  # PostgreSQL: when the last fence that came back was sent
        self.pg = engine.dialect.name == "postgresql"
        self.hits = self.misses = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        _LIVE.add(self)
        if self.pg:
            self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            # The pool's own connection settings (SSL files, options), as psycopg.connect keywords.
            self._connect_args = dict((app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}).get("connect_args", {}))
            self._fence_channel = self.application_name = f"gate_fence_{os.getpid()}_{id(self)}"
            self._thread = threading.Thread(target=self._listen, name="gate-cache", daemon=True)
            self._thread.start()

    def usable(self):
        """True when cached rows may decide now (SQLite: after reading the change counter)."""
        if self.pg:
            return time.monotonic() - self.fresh_as_of <= self.stale
        # The raw cursor: this runs on every scan, and the counter needs no type conversion.
        raw = reads.readers(self.app).connection().connection.dbapi_connection
        epoch = raw.execute(_EPOCH_SQL).fetchone()[0]
        if epoch != self.epoch:
            self.clear(key_set=self.epoch is not None)
            self.epoch = epoch
        return True

    def get(self, token_hash, pass_id):
        """(token row, pass row) when both are kept, else None."""
        token, found = self.tokens.get(token_hash), self.passes.get(pass_id)
        if token is None or found is None:
            self.misses += 1
            return None
        self.hits += 1
        return token, found

    def put(self, generation, token_hash, token, pass_id=None, found=None):
        """Keep rows read while the cache was at generation (dropped if it was emptied meanwhile)."""
        with self._lock:
            if generation != self.generation:
                return
            _keep(self.tokens, token_hash, token, self.max_entries)
            if found is not None:
                _keep(self.passes, pass_id, found, self.max_entries)

    def warm(self, site_id, loader):
        """Have a thread load the site's live unlimited passes, unless it did since the last emptying.

        loader(site_id) returns [(pass id, pass row)] and runs in that thread, inside an app context. A site is
        loaded at most once every GATE_CACHE_WARM_SECONDS, so a stream of changes (each empties the cache) costs
        one bulk read per site and interval, not one per change.
        """
        if not self.can_warm:
            return
        if not self._warm_due(site_id):  # every scan asks: no lock unless a warming is due
            return
        with self._lock:
            if not self._warm_due(site_id):  # another request thread queued it first
                return
            self.warmed[site_id] = (self.generation, time.monotonic())
            self._wanted.append((site_id, loader))
            if self._warmer is None and not self._stop.is_set():
                self._warmer = threading.Thread(target=self._warm_all, name="gate-cache-warm", daemon=True)
                self._warmer.start()

    def _warm_due(self, site_id):
        done = self.warmed.get(site_id)
        return done is None or (done[0] != self.generation and time.monotonic() - done[1] >= self.warm_every)

    def idle(self):
        """True when no warming is running or waiting."""
        return self._warmer is None and not self._wanted

    def _warm_all(self):
        """Load every site asked for, then end (the next warming starts a thread of its own)."""
        while True:
            with self._lock:
                if not self._wanted or self._stop.is_set():
                    self._warmer = None
                    return
                site_id, loader = self._wanted.pop(0)
                generation = self.generation
            started = time.monotonic()
            try:
                with self.app.app_context():
                    rows = loader(site_id)
            except Exception as exc:
                errlog.log_failure(log, logging.WARNING, "gate cache warming failed, first scans read the database", exc)
                rows = []
            with self._lock:
                if generation == self.generation:  # else emptied while the rows were read: they may predate the change
                    room = max(0, self.max_entries - len(self.passes))
                    for pass_id, found in rows[:room]:
                        self.passes.setdefault(pass_id, found)
            # Changes anywhere in the deployment empty every site's rows, so with many busy sites warming could
            # take a worker's whole CPU: it rests nine times as long as it worked (a tenth at most).
            self._stop.wait(9 * (time.monotonic() - started))

    def clear(self, key_set=True):
        """Forget every row, and the worker's signing-key set with them (a key may have been retired).

        key_set=False for the first synchronisation, when nothing is known to have changed yet.
        """
        with self._lock:
            self.generation += 1
            self.tokens, self.passes = {}, {}
        keys_cache = self.app.extensions.get("signing_keys") if key_set else None
        if keys_cache is not None:
            keys_cache["at"] = 0.0  # portal.passes.keys reloads on its next use

    def stop(self):
        """End the listener (an app being torn down)."""
        self._stop.set()
        for thread in (self._thread, self._warmer):
            if thread is not None:
                thread.join(timeout=5)

    def _listen(self):
        import psycopg

        reconnect = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._dsn, **(self._connect_args | {"autocommit": True, "application_name": self.application_name})
                ) as conn:
                    schemas = set(conn.execute("SELECT current_schemas(false)").fetchone()[0] or ())
                    conn.execute(f"LISTEN {triggers.CHANNEL}")
                    conn.execute(f"LISTEN {self._fence_channel}")
                    self.clear(key_set=reconnect)  # whatever changed while nobody listened
                    reconnect = True
                    self._fences(conn, schemas)
            except Exception as exc:
                self.fresh_as_of = float("-inf")  # stop answering now, not when the last fence has aged out
                errlog.log_failure(
                    log, logging.WARNING, "gate cache listener lost its connection, decisions read the database", exc
                )
                self._stop.wait(_RECONNECT_SECONDS)

    def _fences(self, conn, schemas):
        interval, seq = self.stale / 3, 0
        while not self._stop.is_set():
            seq += 1
            sent, expected = time.monotonic(), str(seq)
            conn.execute("SELECT pg_notify(%s, %s)", (self._fence_channel, expected))
            for note in conn.notifies(timeout=interval):
                if note.channel == triggers.CHANNEL:
                    if triggers.concerns(note.payload, schemas):
                        self.clear()
                elif note.payload == expected:
                    self.fresh_as_of = sent


def _keep(rows, key, row, most):
    if key not in rows and len(rows) >= most:
        del rows[next(iter(rows))]  # the oldest entry
    rows[key] = row


def for_app(app):
    """This worker's decision cache of app's gate rows, or None when GATE_CACHE is off (made after a fork, not before)."""
    found = app.extensions.get("gate_replica")
    if found is None or found[0] != os.getpid():
        # Once per process even when request threads race here: a second cache's listener would never be stopped.
        with _making:
            found = app.extensions.get("gate_replica")
            if found is None or found[0] != os.getpid():
                made = DecisionCache(app, db.engine) if app.config.get("GATE_CACHE", True) else None
                found = app.extensions["gate_replica"] = (os.getpid(), made)
    return found[1]


def fresh(app):
    """This worker's decision cache when its rows may decide now, else None (SQLite: after reading the counter)."""
    found = for_app(app)
    return found if found is not None and found.usable() else None


def stop(app):
    """Stop the app's decision cache in this process, if it has one."""
    found = app.extensions.pop("gate_replica", None)
    if found is not None and found[0] == os.getpid() and found[1] is not None:
        found[1].stop()


def _changed(session, flush_context, instances):
    # Decided before the flush, while the session still knows what is new, changed or deleted.
    if not session.info.get("gate_cache_dirty") and any(
        _watched_change(session, obj) for obj in (*session.new, *session.deleted, *session.dirty)
    ):
        session.info["gate_cache_dirty"] = True


def _watched_change(session, obj):
    """True when flushing obj changes what the triggers watch (so a token's last use or a heartbeat does not)."""
    columns = triggers.WATCHED.get(getattr(obj, "__tablename__", None), ())
    if columns is None or (columns and obj in session.deleted):
        return True
    if not columns or obj in session.new:
        return False  # a new pass, token or device is in no cache yet
    state = inspect(obj)
    return any(state.attrs[c].history.has_changes() for c in columns if c in state.attrs)


def _committed(session):
    if session.info.pop("gate_cache_dirty", False):
        for app_replica in list(_LIVE):
            app_replica.clear()


def install():
    """Empty this process's caches right after it commits a change the triggers watch."""
    if not event.contains(Session, "before_flush", _changed):
        event.listen(Session, "before_flush", _changed)
        event.listen(Session, "after_commit", _committed)
