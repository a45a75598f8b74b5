"""The portal's half of waking the access bridge: after a commit that changed what devices should hold.

Code that changes passes, devices or remote-open commands marks the session (request(session)); after
that transaction commits, this process sets an in-process Event (tests, single-process setups) and, on
databases without NOTIFY (SQLite, the embedded default), sends one datagram to the bridge's Unix socket
beside the database. Nothing listening is fine: the bridge also polls. PostgreSQL's wake-up is a NOTIFY
sent inside the transaction itself (access_bridge.wakeup). The bridge imports this module, never the reverse.
"""
from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import threading

from sqlalchemy import event
from sqlalchemy.orm import Session

local_event = threading.Event()
_installed = {"done": False}
MAX_UNIX_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on BSD


def request(session) -> None:
    """Ask for a wake-up when this session's transaction commits."""
    session.info["bridge_wake"] = True


def socket_path(database_uri: str, instance_path: str) -> str:
    """Where the bridge serving this database listens: one socket per database, beside it when the path is short."""
    digest = hashlib.sha256(database_uri.encode()).hexdigest()[:16]
    path = os.path.join(instance_path, f"bridge-wake-{digest}.sock")
    if len(path.encode()) > MAX_UNIX_PATH:
        path = os.path.join(tempfile.gettempdir(), f"portal-bridge-wake-{digest}.sock")
    return path


def poke(path: str) -> bool:
    """Send one wake-up datagram; False when no bridge listens there (it will poll)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.sendto(b"w", path)
        return True
    except OSError:  # no socket file, nobody bound, or its queue is full (a wake-up is pending anyway)
        return False


def _target(session) -> str | None:
    """The socket to poke for this session's database; None on PostgreSQL (NOTIFY did it) or outside an app."""
    from flask import current_app, has_app_context

    try:
        bind = session.get_bind()
    except Exception:
        return None
    if bind.dialect.name == "postgresql" or not has_app_context():
        return None
    return socket_path(bind.url.render_as_string(hide_password=True), current_app.instance_path)


def _after_commit(session):
    if not session.info.pop("bridge_wake", False):
        return
    local_event.set()
    if not session.info.get("bridge_quiet"):
        path = _target(session)
        if path is not None:
            poke(path)


def install() -> None:
    """Hook every ORM session once per process."""
    if _installed["done"]:
        return
    _installed["done"] = True
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", lambda s, prev: s.info.pop("bridge_wake", None))
