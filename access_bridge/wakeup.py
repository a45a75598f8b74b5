"""The bridge's end of the wake-up: LISTEN on PostgreSQL, the portal's datagram socket on SQLite.

The portal sends the signal (portal.core.wake: a NOTIFY inside the committing transaction on PostgreSQL,
a datagram after commit on SQLite, and an in-process Event everywhere); the worker still polls about once
a second as a fallback.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from portal.core import wake
from portal.core.wake import CHANNEL, local_event

log = logging.getLogger(__name__)


class Listener:
    """Waits for wake-ups: LISTEN on PostgreSQL, a Unix datagram socket otherwise, the in-process Event everywhere."""

    def __init__(self, engine, signal: threading.Event, instance_path: str | None = None):
        self.engine = engine
        self.signal = signal
        self.woken = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.socket_path: str | None = None
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
        threading.Thread(target=self._datagrams, args=(sock,), name="bridge-wake-socket", daemon=True).start()

    def _datagrams(self, sock: socket.socket) -> None:
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
        if self._sock is not None and self.socket_path is not None:
            self._sock.close()
            try:
                os.unlink(self.socket_path)
            except OSError:
                pass
