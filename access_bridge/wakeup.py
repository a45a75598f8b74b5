"""The wake-up signal from the portal to the bridge.

On PostgreSQL a transaction that changed a pass (or a device's serving options, or queued a
remote open) also runs `pg_notify('access_bridge', '')`; PostgreSQL delivers it only when that
transaction commits, so the bridge never wakes for a change that was rolled back, and there is
no window between commit and signal. In the same process an Event is also set after commit
(tests, benches, single-process setups). On SQLite the worker polls about once a second.
"""
from __future__ import annotations

import logging
import threading

from sqlalchemy import event, inspect, text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
CHANNEL = "access_bridge"
DEVICE_FIELDS = ("options", "gate_ids", "doors", "floors", "building_id", "driver", "kind")
local_event = threading.Event()
_installed = {"done": False}


def request(session):
    """Ask for a wake-up when this session's transaction commits (CLI operations use it)."""
    session.info["bridge_wake"] = True


def _matters(obj, is_new):
    from portal.devices.models import Device, DeviceCommand
    from portal.passes.models import Pass

    if isinstance(obj, Pass):
        return True
    if isinstance(obj, DeviceCommand):
        return is_new
    if isinstance(obj, Device):
        if is_new:
            return True
        state = inspect(obj)
        return any(state.attrs[name].history.has_changes() for name in DEVICE_FIELDS)
    # Face enrolments and their withdrawal change what face terminals should hold.
    return getattr(obj, "__tablename__", "").startswith("face")


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
    if session.info.pop("bridge_wake", False):
        local_event.set()


def _after_rollback(session):
    session.info.pop("bridge_wake", None)


def install():
    """Hook every ORM session once per process."""
    if _installed["done"]:
        return
    _installed["done"] = True
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", lambda s, prev: _after_rollback(s))


class Listener:
    """Waits for wake-ups: LISTEN on PostgreSQL in a thread, the in-process Event everywhere."""

    def __init__(self, engine, signal: threading.Event):
        self.engine = engine
        self.signal = signal
        self.woken = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        if engine.dialect.name == "postgresql":
            self._thread = threading.Thread(target=self._listen, name="bridge-listen", daemon=True)
            self._thread.start()
        threading.Thread(target=self._local, name="bridge-local-wake", daemon=True).start()

    @property
    def pushes(self) -> bool:
        """True when wake-ups arrive as they happen (PostgreSQL); False when the worker must poll."""
        return self._thread is not None

    def _wake(self):
        self.woken.set()
        self.signal.set()

    def _local(self):
        while not self._stop.is_set():
            if local_event.wait(0.5):
                local_event.clear()
                self._wake()

    def _listen(self):
        while not self._stop.is_set():
            try:
                raw = self.engine.raw_connection()
                try:
                    conn = raw.driver_connection
                    conn.autocommit = True
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._wake()  # we may have missed signals while reconnecting
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self._wake()
                finally:
                    raw.invalidate()
            except Exception:
                log.warning("LISTEN connection lost; retrying", exc_info=True)
                self._stop.wait(1.0)

    def stop(self):
        """Stop listening."""
        self._stop.set()
