"""Waking the access bridge after a commit that changed what devices should hold (docs/bridge.md says how).

The bridge's listener (access_bridge.wakeup) imports this module, never the reverse.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import threading

from sqlalchemy import column, event, insert, inspect, table, text
from sqlalchemy.orm import Session

from portal.core.timeutil import utcnow
from portal.core.types import UTCDateTime

local_event = threading.Event()
_installed = {"done": False}
MAX_UNIX_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on BSD
CHANNEL = "access_bridge"
DEVICE_FIELDS = ("options", "gate_ids", "doors", "floors", "building_id", "driver", "kind")
# What a pass's credential on a device is made of (access_bridge.state): a change to anything else
# (a rescan's otp_last_step, the last direction) is not worth an outbox row on the gate's hot path.
PASS_FIELDS = (
    "status", "valid_from", "valid_until", "max_entries", "schedule", "timezone", "gate_ids", "floors",
    "plate", "unit_id", "site_id", "version", "otp_secret",
)  # fmt: skip
# The one site setting a credential is made of (static PINs on PIN-capable devices; access_bridge.state).
PIN_SETTING = "device_static_pin"
# A building's floors are what its lifts serve when the lift names none; a unit's floor and building, its passes'.
BUILDING_FIELDS = ("lowest_floor", "highest_floor")
UNIT_FIELDS = ("floor", "building_id")
# The outbox the bridge plans from (portal.bridge.models.BridgeChange), named here so core needs no feature model.
changes_table = table(
    "bridge_changes", column("id"), column("kind"), column("object_id"), column("site_id"), column("created_at", UTCDateTime())
)


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


def _changed(obj, names):
    state = inspect(obj)
    return any(name in state.attrs and state.attrs[name].history.has_changes() for name in names)


def _pin_setting_changed(site) -> bool:
    """Whether a site's static-PIN setting changed (its other settings are no part of any credential)."""
    history = inspect(site).attrs["settings"].history
    if not history.has_changes():
        return False
    if not history.deleted:  # the old value was never loaded: it may have differed
        return True
    before, after = history.deleted[0] or {}, (history.added or [None])[0] or {}
    return bool(before.get(PIN_SETTING)) != bool(after.get(PIN_SETTING))


def change_of(obj, is_new, is_deleted=False) -> tuple[str, int] | None:
    """The (kind, id) outbox entry a flushed row calls for, or None when no device's credentials depend on it.

    The object's site goes with it (`site_of`), so the bridge knows whose devices to look at without a query.
    """
    table_name = getattr(obj, "__tablename__", "")
    changed = is_new or is_deleted
    if table_name == "passes":
        uses_count = obj.max_entries is not None and _changed(obj, ("uses",))  # devices count the remaining uses
        return ("pass", obj.id) if changed or uses_count or _changed(obj, PASS_FIELDS) else None
    if table_name == "vehicles":
        return "vehicle", obj.id
    if table_name == "devices":
        status = inspect(obj).attrs["status"].history
        removing = any(s in ("removing", "removed") for s in status.added or ())
        return ("device", obj.id) if changed or removing or _changed(obj, DEVICE_FIELDS) else None
    # A new site, building or unit has no passes yet, a deleted one none any more (deleting one that has is refused).
    if table_name == "sites":
        return ("site", obj.id) if not changed and _pin_setting_changed(obj) else None
    if table_name == "buildings":
        return ("building", obj.id) if not changed and _changed(obj, BUILDING_FIELDS) else None
    if table_name == "units":
        return ("unit", obj.id) if not changed and _changed(obj, UNIT_FIELDS) else None
    if table_name.startswith("face") and getattr(obj, "pass_id", None) is not None:
        return "pass", obj.pass_id
    return None


def note(session, kind: str, object_id: int, site_id: int | None) -> None:
    """Write one outbox row for a change made with a Core statement (the flush hook does not see those)."""
    sent = session.info.setdefault("bridge_changes_sent", set())
    if (kind, object_id) in sent:
        return
    sent.add((kind, object_id))
    row = {"kind": kind, "object_id": object_id, "site_id": site_id, "created_at": utcnow()}
    session.connection().execute(insert(changes_table), row)
    request(session)


def site_of(obj, kind, object_id) -> int | None:
    """The community a change belongs to, when the row says so itself (never through a relation that would load)."""
    if kind == "site":
        return object_id
    site_id = obj.__dict__.get("site_id")
    return site_id if isinstance(site_id, int) else None


def _record_changes(session):
    """Write this flush's outbox rows in the same transaction (once per object and transaction)."""
    sent = session.info.setdefault("bridge_changes_sent", set())
    found = []
    for objs, is_new, is_deleted in ((session.new, True, False), (session.dirty, False, False), (session.deleted, False, True)):
        for obj in objs:
            change = change_of(obj, is_new, is_deleted)
            if change is not None and change[1] is not None and change not in sent:
                sent.add(change)
                found.append({"kind": change[0], "object_id": change[1], "site_id": site_of(obj, *change)})
    if found:
        now = utcnow()
        session.connection().execute(insert(changes_table), [dict(row, created_at=now) for row in found])
        request(session)  # the bridge reads these at once, not at its next poll


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
    _record_changes(session)
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


def _forget(session, *_args):
    session.info.pop("bridge_changes_sent", None)


def _after_commit(session):
    _forget(session)
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
    # Any rollback (a savepoint's too) may have taken outbox rows with it: write them again if needed.
    event.listen(Session, "after_soft_rollback", _forget)
