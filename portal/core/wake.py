"""Waking the access bridge after a commit that changed what devices should hold (docs/bridge.md says how).

The bridge's listener (access_bridge.wakeup) imports this module, never the reverse.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import threading

from sqlalchemy import event, inspect, text
from sqlalchemy.orm import Session

local_event = threading.Event()
_installed = {"done": False}
MAX_UNIX_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on BSD
CHANNEL = "access_bridge"
DEVICE_FIELDS = ("options", "gate_ids", "doors", "floors", "building_id", "driver", "kind")


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


def _matters(obj, is_new):
    """Whether a changed row changes what some device should hold (by table, so core needs no feature models)."""
    table = getattr(obj, "__tablename__", "")
    if table in ("passes", "vehicles"):  # residents' cars go to barriers too
        return True
    if table == "device_commands":
        return is_new
    if table == "devices":
        if is_new:
            return True
        state = inspect(obj)
        return any(state.attrs[name].history.has_changes() for name in DEVICE_FIELDS)
    # Face enrolments and their withdrawal change what face terminals should hold.
    return table.startswith("face")


def _scan(session):
    if session.info.get("bridge_wake") or session.info.get("bridge_quiet"):
        return
    for obj in session.new:
        if _matters(obj, True):
            request(session)
            return
    for obj in list(session.dirty) + list(session.deleted):
        if _matters(obj, False):
            request(session)
            return


def _after_flush(session, _ctx):
    _scan(session)


def _before_commit(session):
    _scan(session)
    if not session.info.get("bridge_wake") or session.info.get("bridge_quiet"):
        return
    try:
        bind = session.get_bind()
    except Exception:
        return
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:c, '')"), {"c": CHANNEL})


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
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", lambda s, prev: s.info.pop("bridge_wake", None))
