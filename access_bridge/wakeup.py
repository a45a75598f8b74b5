"""The wake-up signal from the portal to the bridge.

On PostgreSQL a transaction that changed a pass (or a device's serving options, or queued a
remote open) also runs `pg_notify('access_bridge', '')`; PostgreSQL delivers it only when that
transaction commits, so the bridge never wakes for a change that was rolled back, and there is
no window between commit and signal. After commit the portal (portal.core.wake) sets an Event in
its own process and, on SQLite, sends a datagram to the Unix socket the Listener binds beside the
database, so the bridge wakes within milliseconds; it still polls about once a second as a fallback.
"""
from __future__ import annotations

import logging
import os
import socket
import threading

from sqlalchemy import event, inspect, text
from sqlalchemy.orm import Session

from portal.core import wake
from portal.core.wake import local_event, request  # noqa: F401 - the portal's half, re-exported for bridge code

log = logging.getLogger(__name__)
CHANNEL = "access_bridge"
DEVICE_FIELDS = ("options", "gate_ids", "doors", "floors", "building_id", "driver", "kind")
_installed = {"done": False}

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


def install():
    """Hook every ORM session once per process."""
    if _installed["done"]:
        return
    _installed["done"] = True
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "before_commit", _before_commit)
    wake.install()  # after commit: the in-process Event and, on SQLite, the datagram


class Listener:
    """Waits for wake-ups: LISTEN on PostgreSQL, a Unix datagram socket otherwise, the in-process Event everywhere."""

    def __init__(self, engine, signal: threading.Event, instance_path: str | None = None):
        self.engine = engine
        self.signal = signal
        self.woken = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self._sock = None
        self.socket_path = None
        if engine.dialect.name == "postgresql":
            self._thread = threading.Thread(target=self._listen, name="bridge-listen", daemon=True)
            self._thread.start()
        elif instance_path is not None:
            self._bind(wake.socket_path(engine.url.render_as_string(hide_password=True), instance_path))
        threading.Thread(target=self._local, name="bridge-local-wake", daemon=True).start()

    @property
    def pushes(self) -> bool:
        """True when wake-ups arrive as they happen (PostgreSQL); False when the worker must poll."""
        return self._thread is not None

    def _wake(self):
        self.woken.set()
        self.signal.set()

    def _bind(self, path):
        """Listen for the portal's datagrams; without the socket the worker still polls."""
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if os.path.exists(path):
                os.unlink(path)  # left by a bridge that died; a live one would be taking its wake-ups from us
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(path)
            os.chmod(path, 0o600)
        except OSError:
            log.warning("cannot listen for wake-ups at %s; polling only", path, exc_info=True)
            return
        sock.settimeout(0.5)
        self._sock, self.socket_path = sock, path
        threading.Thread(target=self._datagrams, name="bridge-wake-socket", daemon=True).start()

    def _datagrams(self):
        sock = self._sock
        while not self._stop.is_set():
            try:
                sock.recv(64)
            except TimeoutError:
                continue
            except OSError:
                return  # closed by stop()
            self._wake()

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
        if self._sock is not None:
            self._sock.close()
            try:
                os.unlink(self.socket_path)
            except OSError:
                pass
