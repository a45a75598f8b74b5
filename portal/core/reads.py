"""A dedicated read connection per thread for hot single-statement reads (the gate's token and pass lookups).

A gate decision that takes nothing only reads. Through the session each request would check a
connection out of the pool, and on PostgreSQL pay BEGIN and COMMIT round trips around its SELECTs.
A lone SELECT is already a consistent snapshot, so these reads run on a connection each thread
keeps open (autocommit on PostgreSQL) outside the pool: no checkout, no transaction, one round
trip per statement. They see committed rows only, and every write that settles a race re-checks
its conditions in its own WHERE clause. Being outside the pool, the connection can never make a
request wait on the pool for its own second connection.

A connection unused for IDLE_PING_SECONDS is pinged first (a server restart overnight); one that
died mid-use is replaced on the next call (that decision fails closed).
"""
import threading
import time

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from portal.core import sqlite as connections
from portal.extensions import db


class Readers:
    """The per-thread read connections of one app's database."""

    def __init__(self, engine, options):
        url = engine.url
        self.shared = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
        connect_args = (options or {}).get("connect_args", {})
        extra = {"isolation_level": "AUTOCOMMIT"} if url.get_backend_name() == "postgresql" else {}
        self.engine = None if self.shared else create_engine(url, poolclass=NullPool, connect_args=connect_args, **extra)
        self.local = threading.local()
        self.opened = []
        self.lock = threading.Lock()

    def connection(self):
        if self.shared:  # an in-memory database exists only on the session's connection
            return db.session.connection()
        conn = getattr(self.local, "conn", None)
        now = time.monotonic()
        if conn is not None and (conn.invalidated or conn.closed):
            conn.close()
            conn = None
        if conn is not None and now - self.local.used > connections.IDLE_PING_SECONDS and not self._alive(conn):
            conn = None
        if conn is None:
            conn = self.local.conn = self.engine.connect()
            with self.lock:
                self.opened.append(conn)
        self.local.used = now
        return conn

    @staticmethod
    def _alive(conn):
        try:
            conn.execute(text("SELECT 1"))
            return True
        except Exception:
            conn.invalidate()
            conn.close()
            return False

    def close(self):
        with self.lock:
            for conn in self.opened:
                conn.close()
            self.opened.clear()
        if self.engine is not None:
            self.engine.dispose()


def readers(app):
    """The app's read connections (created on first use)."""
    found = app.extensions.get("read_connections")
    if found is None:
        found = app.extensions["read_connections"] = Readers(db.engine, app.config.get("SQLALCHEMY_ENGINE_OPTIONS"))
    return found


def connection():
    """This thread's read connection for the current app."""
    from flask import current_app

    return readers(current_app._get_current_object()).connection()


def close(app):
    """Close the app's read connections (tests tearing an app down)."""
    found = app.extensions.pop("read_connections", None)
    if found is not None:
        found.close()
