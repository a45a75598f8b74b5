"""SQLite settings for the embedded default: WAL, a busy timeout and enforced foreign keys."""
import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine

_done = {"installed": False}


def install():
    """Set pragmas on every new SQLite connection (once per process)."""
    if _done["installed"]:
        return
    _done["installed"] = True

    @event.listens_for(Engine, "connect")
    def _pragmas(dbapi_conn, _record):
        if isinstance(dbapi_conn, sqlite3.Connection):
            cur = dbapi_conn.cursor()
            # WAL lets readers run while one writer commits; busy_timeout queues writers instead of failing.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
