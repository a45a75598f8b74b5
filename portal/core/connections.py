"""Database connections: SQLite pragmas (WAL, busy timeout, foreign keys); on every database, a ping for idle ones."""

import sqlite3
import time

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

_done = {"installed": False}
# A pooled connection unused this long is pinged before use (instead of pool_pre_ping on every checkout).
IDLE_PING_SECONDS = 1.0


def install():
    """Set pragmas on every new SQLite connection (once per process)."""
    if _done["installed"]:
        return
    _done["installed"] = True

    event.listen(Pool, "checkin", _note_checkin)
    event.listen(Pool, "checkout", _ping_if_idle)

    @event.listens_for(Engine, "connect")
    def _pragmas(dbapi_conn, _record):
        if isinstance(dbapi_conn, sqlite3.Connection):
            cur = dbapi_conn.cursor()
            # busy_timeout first: switching to WAL needs a lock another connection may hold right now.
            # WAL lets readers run while one writer commits; busy_timeout queues writers instead of failing.
            cur.execute("PRAGMA busy_timeout=5000")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()


def _note_checkin(dbapi_conn, record):
    if record is not None:
        record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dbapi_conn, record, _proxy):
    """Ping a server connection that sat idle; a dead one is replaced and the pool is refreshed.

    pool_pre_ping would add a SELECT 1 round trip to every request. Under steady traffic the
    connection was used a moment ago; if the server died since, the request's own statement fails,
    SQLAlchemy invalidates the whole pool on that disconnect, and the next request reconnects (the
    gate answers that one request deny/error: it fails closed). An idle connection, the usual victim
    of a database restart or a firewall timeout, is still checked before it is trusted.
    """
    if isinstance(dbapi_conn, sqlite3.Connection):
        return  # a file, not a server: nothing can drop it
    last = record.info.get("checked_in")
    if last is None or time.monotonic() - last < IDLE_PING_SECONDS:
        return  # just connected, or used a moment ago
    try:
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
    except Exception as err:
        # The server probably restarted: replace this connection and every older pooled one.
        raise exc.InvalidatePoolError("idle connection failed its ping") from err
