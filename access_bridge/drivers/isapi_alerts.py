"""ISAPI alarms: the alert stream (a long-lived multipart response per terminal) and the AcsEvent records behind it.

(docs/bridge.md, "Alarms", lists the codes and says how the stream reconnects.)
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from zoneinfo import ZoneInfo

import requests

from access_bridge.drivers.base import AlarmBuffer, DeviceAlarm
from access_bridge.drivers.isapi_payloads import parse_time
from portal.core.timeutil import utcnow

log = logging.getLogger(__name__)
STREAM_PATH = "/ISAPI/Event/notification/alertStream"
BACKOFF_FIRST, BACKOFF_CAP = 0.5, 30.0
# (major, minor) → (our alarm kind, cleared). Major 1 alarms, 2 exceptions, 5 events (Hikvision ACS codes).
ALARM_CODES = {
    (1, 0x404): ("tamper", False),  # controller case opened
    (1, 0x406): ("tamper", False),  # card reader torn off
    (1, 0x40A): ("duress", False),  # duress code or card
    (1, 0x415): ("fire_input", False),  # fire input short circuit
    (1, 0x416): ("fire_input", False),  # fire input broken circuit
    (1, 0x418): ("fire_input", False),  # fire button pressed
    (2, 0x027): ("link_loss", False),  # network broken
    (2, 0x405): ("power_loss", False),  # mains off
    (2, 0x409): ("link_loss", False),  # card reader offline
    (5, 0x1A): ("door_held", True),  # door closed (ends a held-open alarm)
    (5, 0x1B): ("door_forced", False),  # door opened without a valid open
    (5, 0x1C): ("door_held", False),  # door open too long
}


def alarm_from_record(info: dict, zone: ZoneInfo) -> DeviceAlarm | None:
    """An AcsEvent record or an alert's AccessControllerEvent as an alarm, or None when it is none."""
    major = info.get("major", info.get("majorEventType"))
    minor = info.get("minor", info.get("subEventType"))
    found = ALARM_CODES.get((major, minor)) if type(major) is int and type(minor) is int else None
    if found is None:
        return None
    kind, cleared = found
    serial = info.get("serialNo")
    door = info.get("doorNo")
    try:
        at = parse_time(str(info.get("time") or info.get("dateTime")), zone)
    except (TypeError, ValueError):
        at = utcnow()
    return DeviceAlarm(
        kind=kind,
        at=at,
        door=door if type(door) is int else None,
        cleared=cleared,
        # The same key whether the alarm came by the stream or by the pull: the table keeps one.
        source_key=f"isapi-{serial}" if serial is not None else None,
        raw={k: info[k] for k in ("major", "minor", "majorEventType", "subEventType", "serialNo", "doorNo") if k in info},
    )


def alert_from_part(body: bytes, zone: ZoneInfo) -> DeviceAlarm | None:
    """One multipart part of the stream: JSON AccessControllerEvent alerts count, heartbeats and XML do not."""
    try:
        alert = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None  # XML heartbeats (videoloss, inactive) and pictures
    if not isinstance(alert, dict) or alert.get("eventType") != "AccessControllerEvent":
        return None
    event = alert.get("AccessControllerEvent")
    if not isinstance(event, dict):
        return None
    return alarm_from_record({**event, "dateTime": alert.get("dateTime")}, zone)


class Parts:
    """Incremental multipart/mixed parser: feed bytes, get part bodies (Content-Length when given, else the boundary)."""

    def __init__(self, boundary: str):
        self.delimiter = b"--" + boundary.encode()
        self.buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        """Bodies completed by this chunk."""
        self.buffer += data
        out: list[bytes] = []
        while True:
            start = self.buffer.find(self.delimiter)
            if start < 0:
                self.buffer = self.buffer[-len(self.delimiter) :]
                return out
            head_end = self.buffer.find(b"\r\n\r\n", start)
            if head_end < 0:
                self.buffer = self.buffer[start:]
                return out
            headers = self.buffer[start + len(self.delimiter) : head_end].decode("latin-1").lower()
            body_start = head_end + 4
            length = _content_length(headers)
            if length is not None:
                if len(self.buffer) < body_start + length:
                    self.buffer = self.buffer[start:]
                    return out
                out.append(self.buffer[body_start : body_start + length])
                self.buffer = self.buffer[body_start + length :]
                continue
            end = self.buffer.find(self.delimiter, body_start)
            if end < 0:
                self.buffer = self.buffer[start:]
                return out
            out.append(self.buffer[body_start:end].strip(b"\r\n"))
            self.buffer = self.buffer[end:]


def _content_length(headers: str) -> int | None:
    for line in headers.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "content-length" and value.strip().isdigit():
            return int(value.strip())
    return None


def boundary_of(content_type: str) -> str | None:
    """The boundary parameter of a multipart Content-Type."""
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"')
    return None


class AlertStream:
    """One terminal's alert stream on its own thread: alarms into the buffer, reconnecting with capped back-off."""

    def __init__(self, base: str, auth, zone: ZoneInfo, buffer: AlarmBuffer, verify=True, read_timeout: float = 60.0):
        self.url = base + STREAM_PATH
        self.auth, self.zone, self.buffer, self.verify = auth, zone, buffer, verify
        self.read_timeout = read_timeout  # the device sends heartbeats well within this
        self.stop = threading.Event()
        self.connected = threading.Event()
        self.reconnects = 0
        self._sock = None
        self.thread = threading.Thread(target=self._run, name="isapi-alerts", daemon=True)

    def start(self) -> AlertStream:
        """Begin listening."""
        self.thread.start()
        return self

    def close(self) -> None:
        """Stop listening: the socket is shut down so the blocked read returns (closing the response would wait on it)."""
        self.stop.set()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _run(self) -> None:
        delay = BACKOFF_FIRST
        while not self.stop.is_set():
            try:
                self._listen()
                delay = BACKOFF_FIRST  # a stream that ran and ended: reconnect soon
            except (requests.RequestException, OSError, ValueError) as exc:
                log.info("isapi alert stream %s: %s; reconnecting in %.1fs", self.url, exc.__class__.__name__, delay)
            self.connected.clear()
            if self.stop.wait(delay):
                return
            delay = min(BACKOFF_CAP, delay * 2)
            self.reconnects += 1

    def _listen(self) -> None:
        with requests.Session() as session:
            session.auth, session.verify = self.auth, self.verify
            response = session.get(self.url, stream=True, timeout=(5, self.read_timeout))
            self._sock = getattr(getattr(response.raw, "_connection", None), "sock", None)
            try:
                if response.status_code != 200:
                    raise ValueError(f"HTTP {response.status_code}")
                boundary = boundary_of(response.headers.get("Content-Type", ""))
                if boundary is None:
                    raise ValueError("no multipart boundary")
                parts = Parts(boundary)
                self.connected.set()
                while not self.stop.is_set():
                    # read1: whatever has arrived (a multipart stream has no length and may not be chunked), at once.
                    chunk = response.raw.read1(65536)
                    if not chunk:
                        return  # the device closed the stream
                    for body in parts.feed(chunk):
                        alarm = alert_from_part(body, self.zone)
                        if alarm is not None:
                            self.buffer.add(alarm)
            finally:
                self._sock = None
                response.close()
