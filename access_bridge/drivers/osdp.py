"""OSDP readers and keypads at a gate, with the bridge as the control panel (libosdp, secure channel).

(docs/bridge.md gives the options and says why the driver neither decides nor holds credentials.)
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import osdp

from access_bridge.drivers.base import (
    EMERGENCY_MODES,
    AlarmBuffer,
    DeviceAlarm,
    DeviceAuthFailed,
    DeviceEvent,
    DeviceUnreachable,
    Driver,
    DriverError,
    EventBuffer,
    register,
)
from access_bridge.drivers.osdp_channel import SocketChannel
from portal.devices.drivers import OSDP

log = logging.getLogger(__name__)
Decide = Callable[[str, "bytes | str", int], "tuple[bool, str]"]
MAX_CARD_BYTES = 64
_ENTER = {ord("#"), 0x0D}
_CLEAR = {ord("*"), 0x7F}
_MAX_TYPED = 32
_KICK_EVERY = 3.0  # seconds between attempts to bring a silent peripheral back
# A wrong key fails the secure-channel handshake about 0.2 s after connecting; later failures are not a key's.
_KEY_CHECK_SECONDS = 2.0


@register
class OsdpDriver(Driver):
    """OSDP control panel for one reader/keypad; decides through on_credential."""

    slug = OSDP.slug
    capabilities = OSDP.capabilities

    def __init__(
        self,
        device_id: int,
        options: dict,
        connect: Callable[[], socket.socket] | None = None,
        on_credential: Decide | None = None,
    ):
        super().__init__(device_id, options)
        try:
            self.scbk = bytes.fromhex(self.options["scbk"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DriverError("osdp options need scbk (32 hex digits)") from exc
        if len(self.scbk) != 16:
            raise DriverError("osdp scbk must be 16 bytes")
        self.address = int(self.options.get("address", 1))
        self.relay = int(self.options.get("relay_output", 0))
        self.pulse = float(self.options.get("pulse_seconds", 3))
        self.code_length = int(self.options["code_length"]) if self.options.get("code_length") else None
        self.keypad_timeout = float(self.options.get("keypad_timeout", 5))
        self.card_method = self.options.get("card_method", "qr")
        self.connect = connect or self._tcp_connect
        self.on_credential = on_credential
        self._channel = SocketChannel()
        self._cp: osdp.ControlPanel | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._typed: dict[int, tuple[str, float]] = {}
        self._events = EventBuffer()
        self._alarms = AlarmBuffer()
        self._strike_until = 0.0  # the door may open without alarm until then (we pulsed the strike)
        self._was_online = False
        self._start_lock = threading.Lock()
        self._connect_error: str | None = None  # why the last connection attempt failed, until one succeeds
        self._key_refused = False  # the secure channel failed on this connection before it was ever up
        self._connected_at = -math.inf  # when the last connection attempt succeeded (monotonic)

    # -- contract ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect and start polling the reader (idempotent; the other methods call it)."""
        with self._start_lock:
            if self._cp is not None:
                return
            self._reconnect()
            level = getattr(osdp.LogLevel, str(self.options.get("log_level", "Error")), osdp.LogLevel.Error)
            info = osdp.PDInfo(
                self.address, self._channel, scbk=self.scbk, flags=[osdp.LibFlag.EnforceSecure, osdp.LibFlag.EnableNotification]
            )
            self._cp = osdp.ControlPanel([info], log_level=level)
            self._cp.start()
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"osdp-{self.device_id}", daemon=True)
            self._thread.start()

    def upsert(self, cred) -> None:
        """Nothing to push: the bridge decides for OSDP readers."""

    def revoke(self, key: str) -> None:
        """Nothing to delete: the bridge decides for OSDP readers."""

    def open(self, door: int | None = None, reason: str | None = None) -> None:
        """Pulse the relay now."""
        self.start()
        if not self._online() or not self._panel().submit_command(self.address, self._relay_command()):
            raise self._offline()

    def emergency(self, mode: str) -> None:
        """release: the strike output on until told otherwise (OSDP "permanent on"); restore: permanent off."""
        if mode not in EMERGENCY_MODES:
            raise DriverError(f"unknown emergency mode {mode!r}")
        self.start()
        # Control codes 2 and 1 also cancel a running timed pulse, so the state is the one asked for at once.
        release = mode == "release"
        command = {"command": osdp.Command.Output, "output_no": self.relay, "control_code": 2 if release else 1, "timer_count": 0}
        self._strike_until = math.inf if release else 0.0  # the door stands open on purpose: not forced
        if not self._online() or not self._panel().submit_command(self.address, command):
            raise self._offline()

    def health(self) -> bool:
        """True when the reader is online with the secure channel up."""
        self.start()
        return self._online()

    def check(self) -> None:
        """Connect and give the secure channel a moment to come up (about half a second); offline after that is unreachable.

        A connection that is refused or times out is reported at once with the reason, and a reader whose
        handshake failed just after connecting, and never came online, as holding another key: the device page's
        connection test should neither wait out the grace for a cable that is not there nor call a wrong key
        "offline".
        """
        self.start()
        if self._connect_error is not None and not self._channel.up:
            raise DeviceUnreachable(f"OSDP reader {self.address}: cannot connect ({self._connect_error})")
        # The whole grace even when the key looks refused: a reader still holding an old session may fail the
        # first handshake after a reconnect and pass the next.
        if not self.wait_online(3.0):
            if self._key_refused:
                raise self._offline()
            raise DeviceUnreachable(f"OSDP reader {self.address} did not come online with the secure channel")

    def wait_online(self, timeout: float = 5.0) -> bool:
        """Wait until the reader is online with the secure channel up."""
        self.start()
        deadline = time.monotonic() + timeout
        while not self._online():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def events(self, after_serial: int) -> list[DeviceEvent]:
        """Decisions taken at this reader, numbered from after_serial on."""
        return self._events.take(after_serial)

    def watch_alarms(self, notify) -> None:
        """Status reports already arrive on the polling thread; notify() wakes the worker for each alarm."""
        self._alarms.notify = notify
        self.start()

    def alarms(self) -> list[DeviceAlarm]:
        """Alarms from the reader's status reports since the last call."""
        return self._alarms.take()

    def close(self) -> None:
        """Stop polling and tear the control panel down."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
        if self._cp is not None:
            self._cp.teardown()
            self._cp = None
        self._channel.drop()

    # -- loop -------------------------------------------------------------------------------------------------
    def _online(self) -> bool:
        cp = self._cp
        return cp is not None and cp.is_online(self.address) and cp.is_sc_active(self.address)

    def _offline(self) -> DriverError:
        """Why a command cannot be sent: the reader holds another key, or it is not there."""
        if self._key_refused:
            return DeviceAuthFailed(f"OSDP reader {self.address} refused the secure channel key (scbk)")
        return DeviceUnreachable(f"OSDP reader {self.address} is offline")

    def _panel(self) -> osdp.ControlPanel:
        cp = self._cp
        if cp is None:
            raise DeviceUnreachable(f"OSDP reader {self.address} is not connected")
        return cp

    def _tcp_connect(self) -> socket.socket:
        try:
            host, port = self.options["host"], int(self.options["port"])
        except (KeyError, ValueError) as exc:
            raise DriverError("osdp tcp transport needs host and port") from exc
        return socket.create_connection((host, port), timeout=float(self.options.get("connect_timeout", 2)))

    def _reconnect(self) -> bool:
        try:
            self._channel.attach(self.connect())
        except OSError as exc:
            log.info("OSDP reader %s: connect failed: %s", self.device_id, exc)
            self._connect_error = str(exc) or type(exc).__name__
            return False
        self._connect_error = None
        self._key_refused = False
        self._connected_at = time.monotonic()
        return True

    def _kick(self) -> None:
        """Restart the peripheral's state machine now instead of after libosdp's long offline wait."""
        cp = self._panel()
        if cp.disable_pd(self.address):
            time.sleep(0.1)
        cp.enable_pd(self.address)

    def _run(self) -> None:
        last_try = time.monotonic()
        while not self._stop.is_set():
            cp = self._cp
            if cp is None:
                return  # closed
            now = time.monotonic()
            if now - last_try > _KICK_EVERY or (not self._channel.up and now - last_try > 0.5):
                last_try = now
                if not self._channel.up:
                    if self._reconnect():
                        self._kick()
                elif not cp.is_online(self.address):
                    self._kick()
            event = cp.get_event(self.address, timeout=0.05)
            if event is not None:
                self._handle(event)
            self._expire_typing()

    def _handle(self, event: dict) -> None:
        kind = event.get("event")
        reader = int(event.get("reader_no", 0))
        if kind == osdp.Event.CardRead:
            self._decide("card", bytes(event.get("data", b""))[:MAX_CARD_BYTES], reader)
        elif kind == osdp.Event.KeyPress:
            for byte in bytes(event.get("data", b"")):
                self._key(reader, byte)
        elif kind == osdp.Event.Status:
            self._status(event)
        elif kind == osdp.Event.Notification and event.get("type") == osdp.EventNotification.PeripheralDeviceStatus:
            online = bool(event.get("arg0"))
            if self._was_online and not online and not self._stop.is_set():
                self._alarm("link_loss")
            self._was_online = online
        elif kind == osdp.Event.Notification and event.get("type") == osdp.EventNotification.SecureChannelStatus:
            # The handshake failed just after we connected, before the reader was ever online: it holds another
            # key. Later (a link lost, a reader kicked while it is away) the channel going down says nothing of it.
            fresh = self._channel.up and time.monotonic() - self._connected_at < _KEY_CHECK_SECONDS
            self._key_refused = not event.get("arg0") and not self._was_online and fresh
        # Command status notifications need no answer.

    def _status(self, event: dict) -> None:
        """Local status (tamper, power) and input status (input 0: the door contact) reports."""
        report = bytes(event.get("report") or b"")
        kind = event.get("type")
        if kind == osdp.StatusReportType.Local and len(report) >= 2:
            if report[0]:
                self._alarm("tamper")
            if report[1]:
                self._alarm("power_loss")
        elif kind == osdp.StatusReportType.Input and report:
            if report[0] and time.monotonic() > self._strike_until:
                self._alarm("door_forced", door=1)  # the contact opened and we had not released the strike
            elif not report[0]:
                self._alarm("door_held", door=1, cleared=True)  # closed: a held-open alarm ends

    def _alarm(self, kind: str, door: int | None = None, cleared: bool = False) -> None:
        self._alarms.add(DeviceAlarm(kind=kind, at=datetime.now(UTC), door=door, cleared=cleared))

    def _key(self, reader: int, byte: int) -> None:
        typed, _ = self._typed.get(reader, ("", 0.0))
        if byte in _CLEAR:
            typed = ""
        elif byte in _ENTER:
            self._typed.pop(reader, None)
            if typed:
                self._decide("keys", typed, reader)
            return
        elif 0x30 <= byte <= 0x39:
            typed += chr(byte)
        if len(typed) > _MAX_TYPED:
            typed = ""
        if self.code_length and len(typed) == self.code_length:
            self._typed.pop(reader, None)
            self._decide("keys", typed, reader)
            return
        self._typed[reader] = (typed, time.monotonic())

    def _expire_typing(self) -> None:
        now = time.monotonic()
        for reader, (_, at) in list(self._typed.items()):
            if now - at > self.keypad_timeout:
                self._typed.pop(reader, None)

    def _decide(self, kind: str, data: bytes | str, reader: int) -> None:
        grant, reason = False, "error"
        if self.on_credential is not None:
            try:
                grant, reason = self.on_credential(kind, data, reader)
            except Exception:  # a failing decision must still answer the person at the gate
                log.exception("OSDP decision callback failed on device %s", self.device_id)
                grant, reason = False, "error"
        self._answer(bool(grant), reader)
        method = self.card_method if kind == "card" else "code"
        self._events.add(
            DeviceEvent(
                serial=0,
                at=datetime.now(UTC),
                decision="grant" if grant else "deny",
                reason=reason,
                method=method,
                door=self.relay,
                raw={"reader_no": reader, "kind": kind, "length": len(data)},
            )
        )

    def _relay_command(self) -> dict:
        # The door contact may open from now until the strike falls back (and a moment for the person to pass).
        self._strike_until = max(self._strike_until, time.monotonic() + self.pulse + 2)  # inf while released
        return {
            "command": osdp.Command.Output,
            "output_no": self.relay,
            "control_code": 5,
            "timer_count": max(1, round(self.pulse * 10)),
        }

    def _answer(self, grant: bool, reader: int) -> None:
        commands = [self._relay_command()] if grant else []
        colour = osdp.CommandLEDColor.Green if grant else osdp.CommandLEDColor.Red
        commands.append(
            {
                "command": osdp.Command.LED,
                "reader": reader,
                "led_number": 0,
                "control_code": 2,
                "on_count": 10,
                "off_count": 0,
                "on_color": colour,
                "off_color": osdp.CommandLEDColor.Black,
                "timer_count": 20,
                "temporary": True,
            }
        )
        commands.append(
            {
                "command": osdp.Command.Buzzer,
                "reader": reader,
                "control_code": 2,
                "on_count": 2,
                "off_count": 1,
                "rep_count": 1 if grant else 3,
            }
        )
        for command in commands:
            if not self._panel().submit_command(self.address, command):
                log.warning("OSDP reader %s: could not queue command %s", self.device_id, command["command"])
