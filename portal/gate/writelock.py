"""One writer at a time on SQLite, queued on a flock instead of SQLite's sleeping busy handler; a no-op on PostgreSQL.

(docs/gate.md, "Performance", says why.)
"""

import fcntl
import os
import threading

from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.extensions import db

_KEY = "gate_write_lock"
_files = {}
_threads = {}
_guard = threading.Lock()


def _lock_path():
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return os.path.abspath(url.database) + ".gate-lock"


def _handles(path):
    # Keyed by pid too: a descriptor inherited across fork shares its flock with the parent.
    key = (os.getpid(), path)
    with _guard:
        if key not in _files:
            _files[key] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            _threads[key] = threading.Lock()
        return _files[key], _threads[key]


def acquire():
    """Take the write lock for this session's transaction (idempotent; a no-op off SQLite)."""
    info = db.session.info
    if _KEY in info:
        return
    path = _lock_path()
    if path is None:
        info[_KEY] = None
        return
    fd, thread_lock = _handles(path)
    # flock excludes other processes; the thread lock excludes threads sharing this process's descriptor.
    thread_lock.acquire()
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        thread_lock.release()
        raise
    info[_KEY] = (fd, thread_lock)


def release():
    """Drop the lock after commit or rollback (also done by the session listeners below)."""
    _release_session(db.session())


def _release_session(session, *_):
    held = session.info.pop(_KEY, None)
    if held:
        fd, thread_lock = held
        fcntl.flock(fd, fcntl.LOCK_UN)
        thread_lock.release()


def _transaction_end(session, transaction):
    if transaction.parent is None:
        _release_session(session)


def install():
    """The end of any outermost transaction (commit, rollback or close) releases the lock."""
    if not event.contains(Session, "after_transaction_end", _transaction_end):
        event.listen(Session, "after_transaction_end", _transaction_end)
