"""`db://`: a `limits` storage every worker process shares, with no extra server.

On PostgreSQL the counters live in the app's database (own short transactions, one advisory lock
per key). On SQLite they live in a file next to the database (`<db>-limits`), so a counter never
waits for a request's write lock on the app's file. Flask-Limiter and the keypad throttle both
use it when RATELIMIT_STORAGE_URI is `db://` (the default); `redis://` suits large deployments.
"""

import sqlite3
import threading
import time
from pathlib import Path

from flask import current_app
from limits.storage import MemoryStorage, MovingWindowSupport, Storage
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS rate_limit_hits (key VARCHAR(255) NOT NULL, at DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_rate_limit_hits_key_at ON rate_limit_hits (key, at)",
    "CREATE TABLE IF NOT EXISTS rate_limit_counters (key VARCHAR(255) PRIMARY KEY, value INTEGER NOT NULL, "
    "expires_at DOUBLE PRECISION NOT NULL)",
)


class _Sqlite:
    """A file beside the SQLite database; one connection per thread, BEGIN IMMEDIATE per operation."""

    def __init__(self, path):
        self.path = path
        self.local = threading.local()
        with self._tx() as cur:
            for statement in SCHEMA:
                cur.execute(statement)

    def _conn(self):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self.local.conn = conn
        return conn

    def _tx(self):
        return _SqliteTx(self._conn())

    def run(self, fn):
        with self._tx() as cur:
            return fn(lambda sql, params=(): cur.execute(sql.replace("%s", "?"), params).fetchall())


class _SqliteTx:
    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")  # serialises check-and-add across processes
        return self.conn.cursor()

    def __exit__(self, exc_type, *_):
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


class _Postgres:
    """The app's own database: a short transaction per operation, never the request's session."""

    def __init__(self, engine):
        self.engine = engine
        with engine.begin() as conn:
            for statement in SCHEMA:
                conn.exec_driver_sql(statement)

    def run(self, fn, key=None):
        with self.engine.begin() as conn:

            def q(sql, params=()):
                res = conn.exec_driver_sql(sql, tuple(params))
                return res.fetchall() if res.returns_rows else []

            if key is not None:
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 7))"), {"k": key})
            return fn(q)


def _backend():
    """This app's backend (made on first use, kept in app.extensions)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy method; Flask types current_app as Flask
    backend = app.extensions.get("ratelimit_db")
    if backend is None:
        # Flask-SQLAlchemy registers itself here; reading it keeps core free of portal.extensions (which imports us).
        engine = app.extensions["sqlalchemy"].engine
        if engine.dialect.name == "postgresql":
            backend = _Postgres(engine)
        elif engine.url.database and engine.url.database != ":memory:":
            backend = _Sqlite(str(Path(engine.url.database).resolve()) + "-limits")
        else:
            backend = MemoryStorage()  # an in-memory database serves one process anyway
        app.extensions["ratelimit_db"] = backend
    return backend


class DatabaseStorage(Storage, MovingWindowSupport):
    """Fixed and moving windows in the database (or its sibling file); see the module docstring."""

    STORAGE_SCHEME = ["db"]

    def __init__(self, uri="db://", wrap_exceptions=False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return (SQLAlchemyError, sqlite3.Error)

    def _run(self, fn, key=None, fallback=None):
        backend = _backend()
        if isinstance(backend, MemoryStorage):
            return fallback(backend)
        if isinstance(backend, _Postgres):
            return backend.run(fn, key)
        return backend.run(fn)

    # Moving window: one row per hit.
    def acquire_entry(self, key, limit, expiry, amount=1):
        """Add amount hits unless that would pass limit within the last expiry seconds."""
        if amount > limit:
            return False

        def fn(q):
            now = time.time()
            q("DELETE FROM rate_limit_hits WHERE key = %s AND at <= %s", (key, now - expiry))
            count = q("SELECT count(*) FROM rate_limit_hits WHERE key = %s", (key,))[0][0]
            if count + amount > limit:
                return False
            for _ in range(amount):
                q("INSERT INTO rate_limit_hits (key, at) VALUES (%s, %s)", (key, now))
            return True

        return self._run(fn, key, lambda m: m.acquire_entry(key, limit, expiry, amount))

    def get_moving_window(self, key, limit, expiry):
        """(oldest hit in the window, hits in the window)."""

        def fn(q):
            now = time.time()
            oldest, count = q("SELECT min(at), count(*) FROM rate_limit_hits WHERE key = %s AND at > %s", (key, now - expiry))[0]
            return (oldest if count else now), count

        return self._run(fn, None, lambda m: m.get_moving_window(key, limit, expiry))

    # Fixed window: one counter row per key.
    def incr(self, key, expiry, amount=1):
        """Add amount to a counter that expires expiry seconds after its first hit."""

        def fn(q):
            now = time.time()
            row = q("SELECT value, expires_at FROM rate_limit_counters WHERE key = %s", (key,))
            if row and row[0][1] > now:
                q("UPDATE rate_limit_counters SET value = value + %s WHERE key = %s", (amount, key))
                return row[0][0] + amount
            q("DELETE FROM rate_limit_counters WHERE key = %s", (key,))
            q("INSERT INTO rate_limit_counters (key, value, expires_at) VALUES (%s, %s, %s)", (key, amount, now + expiry))
            return amount

        return self._run(fn, key, lambda m: m.incr(key, expiry, amount))

    def get(self, key):
        """The counter's value, 0 once expired."""

        def fn(q):
            row = q("SELECT value FROM rate_limit_counters WHERE key = %s AND expires_at > %s", (key, time.time()))
            return row[0][0] if row else 0

        return self._run(fn, None, lambda m: m.get(key))

    def get_expiry(self, key):
        """When the counter expires (now when there is none)."""

        def fn(q):
            row = q("SELECT expires_at FROM rate_limit_counters WHERE key = %s", (key,))
            return row[0][0] if row else time.time()

        return self._run(fn, None, lambda m: m.get_expiry(key))

    def clear(self, key):
        """Forget a key's hits and counter."""

        def fn(q):
            q("DELETE FROM rate_limit_hits WHERE key = %s", (key,))
            q("DELETE FROM rate_limit_counters WHERE key = %s", (key,))

        return self._run(fn, key, lambda m: m.clear(key))

    def check(self):
        """True when the store answers."""
        try:
            self._run(lambda q: q("SELECT 1"), None, lambda m: True)
        except Exception:
            return False
        return True

    def reset(self):
        """Forget everything."""

        def fn(q):
            q("DELETE FROM rate_limit_hits")
            q("DELETE FROM rate_limit_counters")

        return self._run(fn, None, lambda m: m.reset())
